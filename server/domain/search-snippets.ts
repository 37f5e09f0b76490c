/**
 * Search excerpts mark their matches with two control characters that stored text never keeps (the
 * headline strips them first); each door turns them into its own marks.
 */

export const matchStart = "\u0002";
export const matchEnd = "\u0003";

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** A snippet as safe HTML: the content escaped, matches in <mark>. */
export function snippetAsHtml(snippet: string): string {
  return snippet
    .replace(/[&<>"']/g, (character) => escapes[character]!)
    .replaceAll(matchStart, "<mark>")
    .replaceAll(matchEnd, "</mark>");
}

/** A snippet as plain text with matches between the given marks (for MCP and terminals). */
export function snippetAsText(snippet: string, open = "«", close = "»"): string {
  return snippet.replaceAll(matchStart, open).replaceAll(matchEnd, close);
}
