import { invalid } from "./errors.ts";

/** Opaque page cursors: clients pass them back unchanged and must not rely on what is inside. */
export function encodeCursor(postId: number): string {
  return Buffer.from(`p${postId}`).toString("base64url");
}

export function decodeCursor(cursor: string): number {
  const match = /^p(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!match) throw invalid("cursor is not one this server gave out.");
  return Number(match[1]);
}

/**
 * A cursor that pages by offset, and the search it pages (`pages`, a fingerprint the caller makes):
 * an offset means nothing in another search's results, so a cursor given with another is refused.
 */
export function encodeOffsetCursor(offset: number, pages: string): string {
  return Buffer.from(`o${offset}.${pages}`).toString("base64url");
}

export function decodeOffsetCursor(cursor: string, pages: string): number {
  const match = /^o(\d{1,9})\.([\w-]+)$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!match) throw invalid("cursor is not one this server gave out.");
  if (match[2] !== pages)
    throw invalid(
      "cursor is from another search: send it with the q (the search query) it came with, or leave it out to start from the first page.",
    );
  return Number(match[1]);
}
