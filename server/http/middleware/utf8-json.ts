/**
 * JSON bodies are UTF-8 text (RFC 8259 section 8.1). Read as text, bytes that are not UTF-8 would
 * turn into U+FFFD without a word, and a body declared in another charset would be misread, so what
 * was stored would not be what was sent: both are refused instead.
 */
import type { Context, MiddlewareHandler } from "hono";
import { AppError, invalid } from "../../domain/errors.ts";

const jsonMediaType = /^application\/([\w.-]+\+)?json$/i;
const charsetParameter = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const utf8Names = new Set(["utf-8", "utf8"]);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The body as text, refused (415) when it declares a charset other than UTF-8 and (400) when its bytes are not UTF-8. */
export async function readUtf8Body(c: Context): Promise<string> {
  const charset = charsetParameter.exec(c.req.header("content-type") ?? "")?.[1];
  if (charset !== undefined && !utf8Names.has(charset.toLowerCase())) {
    throw new AppError(
      "unsupported_media_type",
      `The body is declared as charset=${charset.slice(0, 40)}; send JSON as UTF-8 (charset=utf-8, or none).`,
    );
  }
  // Read outside the try: a body over the size limit fails here with its own refusal.
  const bytes = await c.req.arrayBuffer();
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw invalid("The body is not valid UTF-8; send JSON as UTF-8 text. Nothing was saved.");
  }
  // Kept where Hono keeps each read's promise, so later reads take this text: without it Hono decodes
  // the bytes again through a Response of their own, about 20 µs a request (its type names the method).
  (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
  return text;
}

/**
 * A door's JSON bodies are checked as UTF-8 before anything reads them. Later reads (the route's
 * validator, `c.req.json()`, `c.req.text()`) take the text kept from this read.
 */
export function requireUtf8Json(): MiddlewareHandler {
  return async function requireUtf8Json(c, next) {
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
    if (jsonMediaType.test(mediaType)) await readUtf8Body(c);
    await next();
  };
}
