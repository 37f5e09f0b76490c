import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { createJournalEntry, getJournalEntry, listJournalEntries, searchJournal, type JournalEntry } from "../server/domain/journal.ts";
import { journalSectionNames } from "../server/domain/journal-sections.ts";
import { countSchema, mustBe } from "../server/domain/schemas.ts";
import type { Config } from "../server/config.ts";
import { frameEntries, plural } from "./format.ts";
import {
  guarded,
  searchToolWording,
  idArgument,
  idempotencyKeyArgument,
  limitArgument,
  memoPerConfig,
  readOnly,
  toolResult,
  type OffersTool,
  type ToolContext,
  toolArguments,
} from "./context.ts";

const sectionsOutput = z.object(Object.fromEntries(journalSectionNames.map((name) => [name, z.string().optional()])));

const entryOutput = z.object({
  id: z.number().int(),
  author: z.string(),
  sections: sectionsOutput.nullable().describe("The entry's sections; null when it has none."),
  content: z.string().describe("The entry's free text").nullable().describe("null when it has none."),
  createdAt: z.string(),
});

function entryJson(entry: JournalEntry): z.infer<typeof entryOutput> {
  return {
    id: entry.id,
    author: entry.authorName,
    sections: entry.sections,
    content: entry.content,
    createdAt: entry.createdAt.toISOString(),
  };
}

const kindArgument = z
  .enum(["project", "user", "both"], { error: "type must be 'project', 'user' or 'both'" })
  .optional()
  .describe("'project' (project_notes, technical_insights), 'user' (feelings, user_context, world_knowledge) or 'both' (default).");

const privacyNote = "The journal is private to you: other agents never see it (engineers of your team may read it).";

const sectionArgument = (name: string, what: string) =>
  z
    .string({ error: `${name} must be a string` })
    .optional()
    .describe(what);

export function registerJournalTools(server: McpServer, context: ToolContext, offers: OffersTool): void {
  const { db, config } = context;
  const toolConfigs = journalToolConfigs(config);

  if (offers("process_thoughts"))
    server.registerTool("process_thoughts", toolConfigs.process_thoughts, ({ idempotency_key, ...sections }) =>
      guarded(async () => {
        const { entry, replayed } = await createJournalEntry(
          db,
          context.caller,
          { sections, idempotencyKey: idempotency_key },
          config.limits,
        );
        const written = Object.keys(entry.sections ?? {}).join(", ");
        if (replayed) {
          return toolResult(
            `Already saved as journal entry #${entry.id} (${written}) by an earlier call with this idempotency_key; nothing new was written.`,
            { entry: entryJson(entry), replayed: true },
          );
        }
        return toolResult(`Saved journal entry #${entry.id} (${written}).`, { entry: entryJson(entry) });
      }),
    );

  if (offers("search_journal"))
    server.registerTool("search_journal", toolConfigs.search_journal, (args) =>
      guarded(async () => {
        const { hits } = await searchJournal(db, context.caller, {
          query: args.query,
          limit: args.limit,
          kind: args.type,
          sections: args.sections,
        });
        const matchedOf = new Map(hits.map((hit) => [hit.entry.id, hit.matchedSections]));
        const text = frameEntries(
          `${plural(hits.length, "entry", "entries")}, best match first.`,
          hits.map((hit) => hit.entry),
          (entry) => {
            const sections = matchedOf.get(entry.id) ?? [];
            return sections.length > 0 ? `matched in ${sections.join(", ")}` : undefined;
          },
        );
        return toolResult(text, {
          results: hits.map((hit) => ({ entry: entryJson(hit.entry), rank: hit.rank, matchedSections: hit.matchedSections })),
        });
      }, searchToolWording),
    );

  if (offers("read_journal_entry"))
    server.registerTool("read_journal_entry", toolConfigs.read_journal_entry, (args) =>
      guarded(async () => {
        const entry = await getJournalEntry(db, context.caller, args.id);
        return toolResult(frameEntries("1 entry.", [entry]), { entry: entryJson(entry) });
      }),
    );

  if (offers("list_recent_entries"))
    server.registerTool("list_recent_entries", toolConfigs.list_recent_entries, (args) =>
      guarded(async () => {
        const { entries, total } = await listJournalEntries(db, context.caller, {
          limit: args.limit,
          kind: args.type,
          days: args.days,
        });
        return toolResult(frameEntries(`${plural(entries.length, "entry", "entries")} of ${total}, newest first.`, entries), {
          entries: entries.map(entryJson),
          total,
        });
      }),
    );
}

function buildJournalToolConfigs(config: Config) {
  return {
    process_thoughts: {
      title: "Write to your private journal",
      description:
        `Writes an entry to your private journal, for things you want to remember later but that are not worth a team post. ${privacyNote} ` +
        "Fill at least one section; each is free text. Returns the entry's id. " +
        "Give each entry a fresh idempotency_key: a call that fails or times out may still have written it, and retried with the same sections and key it returns that entry (same id, marked replayed) instead of writing it twice.",
      inputSchema: toolArguments({
        feelings: sectionArgument("feelings", "How the work is going for you; frustrations, doubts, wins."),
        project_notes: sectionArgument("project_notes", "Notes about this project: layout, conventions, gotchas."),
        user_context: sectionArgument("user_context", "What you learned about the people you work with and how they like to work."),
        technical_insights: sectionArgument("technical_insights", "Technical lessons worth keeping: patterns, pitfalls, fixes."),
        world_knowledge: sectionArgument("world_knowledge", "General knowledge you picked up along the way."),
        idempotency_key: idempotencyKeyArgument("entry"),
      }),
      outputSchema: z.object({
        entry: entryOutput,
        replayed: z
          .literal(true)
          .optional()
          .describe("This call was a retry: the entry is the one an earlier call with the same idempotency_key wrote."),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    search_journal: {
      title: "Search your private journal",
      description:
        `Full-text search over your own journal entries, best match first; names the sections each match is in. ${config.embeddings ? "Entries near in meaning are found too, without a word in common. " : ""}${privacyNote} ` +
        "Entries are framed between <<<KEY and KEY>>> lines.",
      inputSchema: toolArguments({
        query: z.string({ error: mustBe("query", "a string") }).describe('Words to find; "quoted phrases" and -excluded words work.'),
        limit: limitArgument(10, 50).describe("How many entries, 1-50 (default 10)."),
        type: kindArgument,
        sections: z
          .array(z.enum(journalSectionNames, { error: `each of sections must be one of ${journalSectionNames.join(", ")}` }), {
            error: "sections must be an array of section names",
          })
          .optional()
          .describe("Only match in these sections."),
      }),
      outputSchema: z.object({
        results: z.array(z.object({ entry: entryOutput, rank: z.number(), matchedSections: z.array(z.string()) })),
      }),
      annotations: readOnly,
    },
    read_journal_entry: {
      title: "Read one journal entry",
      description: `Returns one of your journal entries by id, in full. ${privacyNote}`,
      inputSchema: toolArguments({ id: idArgument("id").describe("The entry's id (from list_recent_entries or search_journal).") }),
      outputSchema: z.object({ entry: entryOutput }),
      annotations: readOnly,
    },
    list_recent_entries: {
      title: "List your recent journal entries",
      description: `Lists your most recent journal entries, newest first. ${privacyNote}`,
      inputSchema: toolArguments({
        limit: limitArgument(10).describe("How many entries, 1-100 (default 10)."),
        type: kindArgument,
        days: countSchema("days", 1, 3650).optional().describe("Only entries from the last this many days."),
      }),
      outputSchema: z.object({ entries: z.array(entryOutput), total: z.number().int() }),
      annotations: readOnly,
    },
  };
}

const journalToolConfigs = memoPerConfig(buildJournalToolConfigs);
