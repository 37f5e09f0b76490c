/**
 * Form bodies (urlencoded or multipart) as fields. Hono's parser throws a TypeError on a multipart
 * body it cannot read (no boundary, a part cut short); that is the client's mistake, answered 400
 * like any other bad form, not a server error. Hono keeps the parsed form, so a later read of the
 * same request (the page's handler after the CSRF check) costs nothing.
 */
import type { Context } from "hono";
import type { BodyData, ParseBodyOptions } from "hono/utils/body";
import { invalid } from "../../domain/errors.ts";

export const unreadableFormMessage =
  "The form could not be read: its multipart body is malformed (a missing or wrong boundary?). Nothing was saved.";

/** The request's form fields, `all: true` keeping every value of a repeated field; an unreadable form is a 400. */
export async function readForm<Options extends Partial<ParseBodyOptions>>(c: Context, options?: Options): Promise<BodyData<Options>> {
  try {
    return await c.req.parseBody<Options, BodyData<Options>>(options);
  } catch (caught) {
    if (caught instanceof TypeError) throw invalid(unreadableFormMessage);
    throw caught;
  }
}
