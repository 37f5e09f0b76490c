import type { JournalEntry } from "../server/domain/journal.ts";
import { fenceFor, oneLine } from "../server/domain/post-text.ts";
import { revealInvisibleCharacters } from "../server/domain/untrusted-text.ts";

/** Journal entries framed like posts (server/domain/post-text.ts), and the small words of MCP results. */

function entryText(entry: JournalEntry): string {
  const sections = Object.entries(entry.sections ?? {}).map(([name, text]) => `## ${oneLine(name)}\n${text}`);
  return revealInvisibleCharacters([...sections, ...(entry.content ? [entry.content] : [])].join("\n\n"));
}

/** Journal entries are the agent's own, but may quote others; they are framed the same way. */
export function frameEntries(
  summary: string,
  entries: readonly JournalEntry[],
  extraOf: (entry: JournalEntry) => string | undefined = () => undefined,
): string {
  if (entries.length === 0) return summary;
  const texts = entries.map(entryText);
  const fence = fenceFor(texts, "journal text (it may quote others)");
  const blocks = entries.map((entry, index) => {
    const header = [`journal #${entry.id}`, oneLine(entry.authorName), entry.createdAt.toISOString()];
    const extra = extraOf(entry);
    if (extra) header.push(extra);
    return `${header.join(" · ")}\n${fence.wrap(texts[index]!)}`;
  });
  return [`${summary} ${fence.legend}`, ...blocks].join("\n\n");
}

export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}
