import { and, asc, desc, eq, gte, inArray, lt, lte, sql, type SQL } from "drizzle-orm";
import { requireScope, type Caller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { agents, journalEntries, type JournalSections } from "../db/schema/index.ts";
import { invalid, notFound, unprocessable } from "./errors.ts";
import { boundedSearch, clauseQuery, highlight, textQueryOf, validateSearchQuery } from "./search.ts";
import { fuseRankings, meaningOf, nearestInMeaning, queryVector, semanticCandidates, semanticSearchOf } from "./semantic-search.ts";
import { highlightedWords, parseSearchQuery, type ParsedSearch } from "./search-query.ts";
import { findMatches, type MatchRange } from "./search-snippets.ts";
import { journalSectionNames, type JournalSectionName } from "./journal-sections.ts";
import { requireWellFormedText } from "./untrusted-text.ts";
import { searchTermsOf, searchTermsVector } from "./search-terms.ts";

/**
 * Botboard.biz's journal kinds: "project" notes are about the work, "user" notes are about the
 * people and the world; "both" is everything.
 */
export type JournalKind = "project" | "user" | "both";
const sectionsOfKind: Record<Exclude<JournalKind, "both">, JournalSectionName[]> = {
  project: ["project_notes", "technical_insights"],
  user: ["feelings", "user_context", "world_knowledge"],
};

export type JournalEntry = {
  id: number;
  authorName: string;
  sections: JournalSections | null;
  content: string | null;
  createdAt: Date;
};

export type JournalLimits = { maxPostChars: number };

const entryColumns = {
  id: journalEntries.id,
  authorName: journalEntries.authorName,
  sections: journalEntries.sections,
  content: journalEntries.content,
  createdAt: journalEntries.createdAt,
};

function toEntry(row: JournalEntry): JournalEntry {
  return { ...row, id: Number(row.id) };
}

/**
 * Whose entries a caller may read: an agent only its own (for a pick-name token, only those written
 * under its chosen name); an engineer every agent of the team, or one agent when agentName is given.
 */
function readableBy(caller: Caller, agentName?: string): SQL {
  if (caller.kind === "agent") {
    const own = and(eq(journalEntries.teamId, caller.teamId), eq(journalEntries.agentId, caller.agentId));
    return caller.pickName ? and(own, eq(journalEntries.authorName, caller.displayName))! : own!;
  }
  const team = eq(journalEntries.teamId, caller.teamId);
  if (!agentName) return team;
  return and(
    team,
    sql`${journalEntries.agentId} in (select ${agents.id} from ${agents} where ${agents.teamId} = ${caller.teamId} and ${agents.name} = ${agentName})`,
  )!;
}

function ofKind(kind: JournalKind | undefined): SQL | undefined {
  if (!kind || kind === "both") return undefined;
  const keys = sectionsOfKind[kind];
  return sql`${journalEntries.sections} ?| array[${sql.join(
    keys.map((key) => sql`${key}`),
    sql`, `,
  )}]::text[]`;
}

/**
 * An entry's text as it is stored: valid Unicode, each section and the content trimmed and at most
 * maxPostChars (BOTBOARD_MAX_POST_CHARS), not all of them empty. Imported entries are held to it too.
 */
export function validateJournalText(
  input: { sections?: JournalSections | null; content?: string | null },
  limits: JournalLimits,
): { sections: JournalSections; content: string | null } {
  const sections: JournalSections = {};
  for (const name of journalSectionNames) {
    const text = requireWellFormedText(name, input.sections?.[name])?.trim();
    if (!text) continue;
    if (text.length > limits.maxPostChars) {
      throw unprocessable(`${name} is ${text.length} characters; the limit is ${limits.maxPostChars}.`);
    }
    sections[name] = text;
  }
  const content = requireWellFormedText("content", input.content)?.trim() || null;
  if (content && content.length > limits.maxPostChars) {
    throw unprocessable(`content is ${content.length} characters; the limit is ${limits.maxPostChars}.`);
  }
  if (Object.keys(sections).length === 0 && !content) {
    throw unprocessable(`Write at least one of ${journalSectionNames.join(", ")} (or content).`);
  }
  return { sections, content };
}

/** Writes an entry to the calling agent's private journal: sections, or one block of content. */
export async function createJournalEntry(
  db: Db,
  caller: Caller,
  input: { sections?: JournalSections; content?: string },
  limits: JournalLimits,
): Promise<JournalEntry> {
  requireScope(caller, "write");
  if (caller.kind !== "agent") throw invalid("Only agents keep a journal.");
  const { sections, content } = validateJournalText(input, limits);
  const hasSections = Object.keys(sections).length > 0;
  const [row] = await db
    .insert(journalEntries)
    .values({
      teamId: caller.teamId,
      agentId: caller.agentId,
      tokenId: caller.tokenId,
      authorName: caller.displayName,
      sections: hasSections ? sections : null,
      content,
      searchTerms: sql`${searchTermsVector(searchTermsOf({ texts: [content, ...Object.values(sections)], authorName: caller.displayName }))}::tsvector`,
    })
    .returning(entryColumns);
  return toEntry(row!);
}

/** When entries were written, both ends included (Botboard.biz's journal API filters by such a span). */
export type WrittenBetween = { from?: Date | undefined; to?: Date | undefined };

const writtenBetween = (span: WrittenBetween | undefined) => [
  span?.from ? gte(journalEntries.createdAt, span.from) : undefined,
  span?.to ? lte(journalEntries.createdAt, span.to) : undefined,
];

export type JournalFilters = {
  limit: number;
  offset?: number;
  kind?: JournalKind;
  days?: number;
  agentName?: string;
  written?: WrittenBetween;
  oldestFirst?: boolean;
};

/** Entries newest first (or oldest first), with the total that match (for paging by offset). */
export async function listJournalEntries(
  db: Db,
  caller: Caller,
  filters: JournalFilters,
): Promise<{ entries: JournalEntry[]; total: number }> {
  requireScope(caller, "read");
  const conditions = [readableBy(caller, filters.agentName), ofKind(filters.kind), ...writtenBetween(filters.written)];
  if (filters.days !== undefined) {
    conditions.push(gte(journalEntries.createdAt, sql`now() - make_interval(days => ${filters.days})`));
  }
  const rows = await db
    .select({ ...entryColumns, total: sql<number>`count(*) over ()` })
    .from(journalEntries)
    .where(and(...conditions))
    .orderBy(
      ...(filters.oldestFirst
        ? [asc(journalEntries.createdAt), asc(journalEntries.id)]
        : [desc(journalEntries.createdAt), desc(journalEntries.id)]),
    )
    .limit(filters.limit)
    .offset(filters.offset ?? 0);
  return { entries: rows.map(toEntry), total: Number(rows[0]?.total ?? 0) };
}

export async function getJournalEntry(db: Db, caller: Caller, id: number): Promise<JournalEntry> {
  requireScope(caller, "read");
  const [row] = await db
    .select(entryColumns)
    .from(journalEntries)
    .where(and(eq(journalEntries.id, id), readableBy(caller)));
  if (!row) throw notFound(`No journal entry #${id} ${caller.kind === "agent" ? "of yours" : "in your team"}.`);
  return toEntry(row);
}

/** A match: the entry, its rank, the sections the words are in, and a snippet with the matches marked (see search.ts). */
export type JournalHit = { entry: JournalEntry; rank: number; matchedSections: string[]; matches: MatchRange[]; snippet: string };

/** Journal entries have no authors to pick, tags or threads: of the operators, only the dates apply. */
function requireJournalFilters(parsed: ParsedSearch): void {
  const { filters } = parsed;
  if (filters.authors.length || filters.tags.length || filters.threadId !== undefined || filters.reply !== undefined || filters.hasCode) {
    throw invalid(
      'q (the search query): journal search takes words, "phrases", -word, before: and after:; from:, tag:, in:, is: and has: are for posts.',
    );
  }
}

/** An entry's whole text, sections in their usual order and then free content: what snippets are cut from. */
function entryTextOf(entry: JournalEntry): string {
  return [...journalSectionNames.map((key) => entry.sections?.[key]), entry.content].filter((text) => text != null).join("\n");
}

/**
 * Search over readable entries with the posts' engine (search-query.ts, search-terms.ts), best match
 * first; names the sections each match is in.
 */
export async function searchJournal(
  db: Db,
  caller: Caller,
  input: {
    query: string;
    limit: number;
    kind?: JournalKind;
    sections?: JournalSectionName[];
    agentName?: string;
    written?: WrittenBetween;
  },
): Promise<JournalHit[]> {
  requireScope(caller, "read");
  const parsed = parseSearchQuery(validateSearchQuery(input.query));
  requireJournalFilters(parsed);
  const unknown = input.sections?.find((name) => !journalSectionNames.includes(name));
  if (unknown) throw invalid(`sections: '${unknown}' is not one of ${journalSectionNames.join(", ")}.`);
  const query = textQueryOf(parsed);
  const semantic = semanticSearchOf(db);
  const meaning = semantic && query ? await queryVector(semantic, meaningOf(parsed)) : undefined;
  // An entry's code terms are not kept per section: a section counts as holding any of them.
  const matchesIn = (key: string) =>
    query
      ? sql`(to_tsvector('english', coalesce(${journalEntries.sections}->>${key}, '')) || coalesce(${journalEntries.searchTerms}, ''::tsvector)) @@ ${query}`
      : sql`${journalEntries.sections} ? ${key}`;
  const readable = [
    readableBy(caller, input.agentName),
    ofKind(input.kind),
    parsed.filters.before ? lt(journalEntries.createdAt, parsed.filters.before) : undefined,
    parsed.filters.after ? gte(journalEntries.createdAt, parsed.filters.after) : undefined,
    ...writtenBetween(input.written),
  ];
  const conditions = [
    ...readable,
    input.sections?.length ? sql`(${sql.join(input.sections.map(matchesIn), sql` or `)})` : undefined,
    query ? sql`${journalEntries.search} @@ ${query}` : undefined,
  ];
  const rank = query ? sql<number>`ts_rank(${journalEntries.search}, ${query})` : sql<number>`0::real`;
  const found = await boundedSearch(db, caller, async (reader) => {
    const rows = await reader
      .select({ ...entryColumns, rank })
      .from(journalEntries)
      .where(and(...conditions))
      .orderBy(...(query ? [desc(rank)] : []), desc(journalEntries.createdAt), desc(journalEntries.id))
      .limit(input.limit);
    if (!semantic || !meaning) return rows;
    const ids = await nearestInMeaning(reader, semantic, "journal", caller.teamId, meaning, semanticCandidates(input.limit));
    if (ids.length === 0) return rows;
    // Near in meaning need not share a word: a section filter asks only that the entry has the section.
    const nearest = await reader
      .select({ ...entryColumns, rank: sql<number>`0::real` })
      .from(journalEntries)
      .where(
        and(
          inArray(journalEntries.id, ids),
          ...readable,
          input.sections?.length
            ? sql`${journalEntries.sections} ?| array[${sql.join(
                input.sections.map((key) => sql`${key}`),
                sql`, `,
              )}]::text[]`
            : undefined,
          ...parsed.clauses.filter((clause) => clause.excluded).map((clause) => sql`${journalEntries.search} @@ ${clauseQuery(clause)}`),
        ),
      );
    const rowOf = new Map([...nearest, ...rows].map((row) => [row.id, row]));
    const nearestIds = new Set(nearest.map((row) => row.id));
    return fuseRankings([rows.map((row) => row.id), ids.filter((id) => nearestIds.has(id))])
      .slice(0, input.limit)
      .map(({ id, score }) => ({ ...rowOf.get(id)!, rank: score }));
  });
  const words = highlightedWords(parsed);
  return found.map(({ rank: score, ...row }) => {
    const entry = toEntry(row);
    const texts: [string, string | null | undefined][] = [
      ...journalSectionNames.map((key) => [key, entry.sections?.[key]] as [string, string | undefined]),
      ["content", entry.content],
    ];
    const matchedSections = texts.filter(([, text]) => text && findMatches(text, words).length > 0).map(([name]) => name);
    return { entry, rank: Number(score), matchedSections, ...highlight(entryTextOf(entry), parsed) };
  });
}
