/**
 * Form bodies (urlencoded or multipart) as fields, taken only as a browser sends them: UTF-8 text,
 * well-formed percent-escapes, each field once. Anything else is a hand-made request that the
 * parser would quietly turn into something other than what was sent (U+FFFD, a literal `%ZZ`, the
 * last of two values), so it is refused (400) before a word of it is saved.
 *
 * Hono's parser throws a TypeError on a multipart body it cannot read (no boundary, a part cut
 * short); that is the client's mistake, answered 400 like any other bad form, not a server error.
 * Hono keeps the body and the parsed form, so a later read of the same request (the page's handler
 * after the CSRF check) parses nothing again.
 */
import type { Context } from "hono";
import type { BodyData } from "hono/utils/body";
import { invalid } from "../../domain/errors.ts";
import { refuseRepeatedValues, shownKey } from "./agent-requests.ts";

export const unreadableFormMessage =
  "The form could not be read: its multipart body is malformed (a missing or wrong boundary?). Nothing was saved.";

/** The checkbox groups of our pages (a new agent's scopes, an OAuth client's): the one field a browser sends more than once. */
const repeatableFields = ["scopes"];

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export type FormFields = BodyData<{ all: true }>;

/** The request's form fields; `scopes` may hold several values, any other field one. A form that is not as a browser sends it is a 400. */
export async function readForm(c: Context): Promise<FormFields> {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/x-www-form-urlencoded" && mediaType !== "multipart/form-data") return {};
  let text: string;
  try {
    text = strictUtf8.decode(await c.req.arrayBuffer());
  } catch {
    throw invalid("The form is not UTF-8 text; nothing was saved.");
  }
  if (mediaType === "application/x-www-form-urlencoded") refuseBrokenEscapes(text);
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

/**
 * The urlencoded parser keeps a `%` that starts no escape as typed and turns escapes that are not
 * UTF-8 (a lone surrogate's %ED%A0%80, a cut-short %E0%A4) into U+FFFD; a browser sends neither.
 */
function refuseBrokenEscapes(body: string): void {
  for (const pair of body.split("&")) {
    const separator = pair.indexOf("=");
    const name = separator === -1 ? pair : pair.slice(0, separator);
    const value = separator === -1 ? "" : pair.slice(separator + 1);
    const readableName = decodedOrUndefined(name);
    if (readableName === undefined || decodedOrUndefined(value) === undefined) {
      const field = readableName === undefined ? "a field name" : shownKey(readableName);
      throw invalid(
        `The form is not UTF-8 text: ${field} has a percent-escape that is not UTF-8 (a stray %, a cut-short escape or a lone surrogate); nothing was saved.`,
      );
    }
  }
}

function decodedOrUndefined(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}
