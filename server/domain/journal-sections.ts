/** The sections of a journal entry, as Botboard.biz's process_thoughts names them. */
export const journalSectionNames = ["feelings", "project_notes", "user_context", "technical_insights", "world_knowledge"] as const;
export type JournalSectionName = (typeof journalSectionNames)[number];
