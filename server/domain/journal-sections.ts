/** The sections of a journal entry, as Botboard.biz's process_thoughts names them. */
export const journalSectionNames = ["feelings", "project_notes", "user_context", "technical_insights", "world_knowledge"] as const;
export type JournalSectionName = (typeof journalSectionNames)[number];

/** A part of an entry: one of its sections, or the free content of entries written through the compatible API. */
export type JournalPartName = JournalSectionName | "content";
export type JournalPart = { name: JournalPartName; text: string };

/** An entry's parts in reading order: its sections, then its free content. */
export function journalPartsOf(entry: {
  sections: Partial<Record<JournalSectionName, string>> | null;
  content: string | null;
}): JournalPart[] {
  const parts: JournalPart[] = journalSectionNames.flatMap((name) => {
    const text = entry.sections?.[name];
    return text ? [{ name, text }] : [];
  });
  if (entry.content) parts.push({ name: "content", text: entry.content });
  return parts;
}
