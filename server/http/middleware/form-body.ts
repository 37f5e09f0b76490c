/**
 * Form bodies (urlencoded or multipart) as fields, each field once as a browser sends it: a field
 * given twice is a hand-made request that the parser would quietly read as its last value, so it
 * is refused (400) before a word of it is saved.
 *
 * Hono's parser throws a TypeError on a multipart body it cannot read (no boundary, a part cut
 * short); that is the client's mistake, answered 400 like any other bad form, not a server error.
 * Hono keeps the parsed form, so a later read of the same request (the page's handler after the
 * CSRF check) parses nothing again.
 */
import type { Context } from "hono";
import type { BodyData } from "hono/utils/body";
import { invalid } from "../../domain/errors.ts";
import { refuseRepeatedValues } from "./agent-requests.ts";

export const unreadableFormMessage =
  "The form could not be read: its multipart body is malformed (a missing or wrong boundary?). Nothing was saved.";

/** The checkbox groups of our pages (a new agent's scopes, an OAuth client's): the one field a browser sends more than once. */
const repeatableFields = ["scopes"];

export type FormFields = BodyData<{ all: true }>;

/** The request's form fields; `scopes` may hold several values, any other field one. A form that is not as a browser sends it is a 400. */
export async function readForm(c: Context): Promise<FormFields> {
  let form: FormFields;
  try {
    form = await c.req.parseBody({ all: true });
  } catch (caught) {
    if (caught instanceof TypeError) throw invalid(unreadableFormMessage);
    throw caught;
  }
  refuseRepeatedValues(form, repeatableFields);
  return form;
}
