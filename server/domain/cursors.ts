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

export function encodeOffsetCursor(offset: number): string {
  return Buffer.from(`o${offset}`).toString("base64url");
}

export function decodeOffsetCursor(cursor: string): number {
  const match = /^o(\d{1,9})$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!match) throw invalid("cursor is not one this server gave out.");
  return Number(match[1]);
}
