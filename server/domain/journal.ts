import { and, asc, desc, eq, gte, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import { requireScope, type Caller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { agents, journalEntries, type JournalSections } from "../db/schema/index.ts";
import type { CappedCount } from "./delivery.ts";
import { conflict, invalid, notFound, unprocessable } from "./errors.ts";
import { requireWithinLength } from "./post-content.ts";
import { idempotencyKeyOf, writeOnce, type IdempotencyKey } from "./idempotency-keys.ts";
import { boundedSearch, validateSearchQuery } from "./search.ts";
import { clauseMatch, exclusionOf, searchableText, searchWordsOf, type Searched } from "./search-words.ts";
import { fuseRankings, meaningOf, nearestInMeaning, queryVector, semanticCandidates, semanticSearchOf } from "./semantic-search.ts";
import { highlightedWords, parseSearchQuery, type ParsedSearch, type SearchWord } from "./search-query.ts";
import { excerptsOf, findMatches, type MatchRange } from "./search-snippets.ts";
import {
  journalPartsOf,
  journalSectionNames,
  type JournalPart,
  type JournalPartName,
  type JournalSectionName,
} from "./journal-sections.ts";
import { requireNoNulByte, requireWellFormedText } from "./untrusted-text.ts";
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
  if (!requireNoNulByte("agent (the agent filter)", agentName)) return team;
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
    requireWithinLength(name, text, limits.maxPostChars);
    sections[name] = text;
  }
  const content = requireWellFormedText("content", input.content)?.trim() || null;
  if (content) requireWithinLength("content", content, limits.maxPostChars);
  if (Object.keys(sections).length === 0 && !content) {
    throw unprocessable(`Write at least one of ${journalSectionNames.join(", ")} (or content).`);
  }
  return { sections, content };
}

export type NewJournalEntry = { sections?: JournalSections; content?: string; idempotencyKey?: string };

/**
 * Writes an entry to the calling agent's private journal: sections, or one block of content. With an
 * idempotency key (the token's own), a retry of the same entry returns the first ({replayed: true});
 * the same key with other text, or signed with another name, is a conflict.
 */
export async function createJournalEntry(
  db: Db,
  caller: Caller,
  input: NewJournalEntry,
  limits: JournalLimits,
): Promise<{ entry: JournalEntry; replayed: boolean }> {
  requireScope(caller, "write");
  if (caller.kind !== "agent") throw invalid("Only agents keep a journal.");
  const text = validateJournalText(input, limits);
  const idempotency = idempotencyKeyOf(caller, input.idempotencyKey);
  const { row: entry, replayed } = await writeOnce(idempotency, {
    insert: async () => {
      const { sections, content } = text;
      const [row] = await db
        .insert(journalEntries)
        .values({
          teamId: caller.teamId,
          agentId: caller.agentId,
          tokenId: caller.tokenId,
          authorName: caller.displayName,
          sections: Object.keys(sections).length > 0 ? sections : null,
          content,
          idempotencyKey: idempotency?.key,
          searchTerms: sql`${searchTermsVector(searchTermsOf({ texts: [content, ...Object.values(sections)], authorName: caller.displayName }))}::tsvector`,
        })
        .onConflictDoNothing({
          target: [journalEntries.tokenId, journalEntries.idempotencyKey],
          where: sql`${journalEntries.idempotencyKey} is not null`,
        })
        .returning(entryColumns);
      return row && toEntry(row);
    },
    find: (key) => findByIdempotencyKey(db, key),
    sameRequest: (earlier) => sameEntryOrConflict(earlier, caller, text),
  });
  return { entry, replayed };
}

async function findByIdempotencyKey(db: Db, { tokenId, key }: IdempotencyKey): Promise<JournalEntry | undefined> {
  const [row] = await db
    .select(entryColumns)
    .from(journalEntries)
    .where(and(eq(journalEntries.tokenId, tokenId), eq(journalEntries.idempotencyKey, key)));
  return row && toEntry(row);
}

/**
 * The earlier entry when this request is its retry: the same text, signed with the same name (a
 * pick-name token is shared, and one session's key must not hand it another's entry).
 */
function sameEntryOrConflict(
  earlier: JournalEntry,
  caller: Caller,
  text: { sections: JournalSections; content: string | null },
): JournalEntry {
  const same =
    earlier.authorName === caller.displayName &&
    earlier.content === text.content &&
    journalSectionNames.every((name) => earlier.sections?.[name] === text.sections[name]);
  if (!same) {
    throw conflict(`This idempotency key was already used for another journal entry (#${earlier.id}); give each new entry a fresh key.`);
  }
  return earlier;
}

/**
 * When entries were written (Botboard.biz's journal API filters by such a span): from `from` on, and
 * before `before`.
 */
export type WrittenBetween = { from?: Date | undefined; before?: Date | undefined };

const writtenBetween = (span: WrittenBetween | undefined) => [
  span?.from ? gte(journalEntries.createdAt, span.from) : undefined,
  span?.before ? lt(journalEntries.createdAt, span.before) : undefined,
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

/** Excerpts of one part of an entry, matches marked (search-snippets.ts), named by the part they come from. */
export type JournalExcerpt = { part: JournalPartName; snippet: string };
/** A match: the entry, its rank, the parts the words are in, and excerpts of them. */
export type JournalHit = { entry: JournalEntry; rank: number; matchedSections: JournalPartName[]; excerpts: JournalExcerpt[] };

/** A page of a journal search; with `countMatches`, how many entries match in all (exact unless `capped`). */
export type JournalSearchPage = { hits: JournalHit[]; matches?: CappedCount };

/**
 * A search's matches are counted up to this many, so the count costs no more for a journal of years
 * than for one of weeks; past it the count means "at least" (as unread counts, delivery.ts).
 */
export const journalMatchCountCap = 1000;

/** How many entries `where` selects, reading at most journalMatchCountCap + 1 of them. */
async function countMatching(reader: Db, where: SQL | undefined): Promise<CappedCount> {
  const matching = reader
    .select({ one: sql`1` })
    .from(journalEntries)
    .where(where)
    .limit(journalMatchCountCap + 1)
    .as("matching");
  const [row] = await reader.select({ count: sql<number>`count(*)::int` }).from(matching);
  const count = Number(row?.count ?? 0);
  return { count: Math.min(count, journalMatchCountCap), capped: count > journalMatchCountCap };
}

/** What a journal search reads: the entry's vector, and the text it was made from (the `search` column's). */
const searchedEntries: Searched = {
  vector: journalEntries.search,
  text: sql.join(
    [
      sql`coalesce(${journalEntries.content}, '')`,
      ...journalSectionNames.map((name) => sql`coalesce(${journalEntries.sections}->>${name}, '')`),
    ],
    sql` || ' ' || `,
  ),
};

/** Journal entries have no authors to pick, tags or threads: of the operators, only the dates apply. */
function requireJournalFilters(parsed: ParsedSearch): void {
  const { filters } = parsed;
  if (filters.authors.length || filters.tags.length || filters.threadId !== undefined || filters.reply !== undefined || filters.hasCode) {
    throw invalid(
      'q (the search query): journal search takes words, "phrases", -word, before: and after:; from:, tag:, in:, is: and has: are for posts.',
    );
  }
}

/**
 * The parts of these entries whose own text holds one of the words, as the database reads them: for
 * entries the words were found in but not placed, being further into a part than highlights look
 * (matchScanChars) or in a form the rough stem misses. Parses those entries' parts, a page at most.
 */
async function partsHoldingWords(reader: Db, teamId: string, ids: number[], words: SearchWord[]): Promise<Map<number, JournalPartName[]>> {
  const texts: [JournalPartName, SQL][] = [
    ...journalSectionNames.map((name): [JournalPartName, SQL] => [name, sql`${journalEntries.sections}->>${name}`]),
    ["content", sql`${journalEntries.content}`],
  ];
  const holding = texts.map(([name, text]) => {
    const part = sql`coalesce(${text}, '')`;
    return sql`case when ${clauseMatch({ anyOf: words, excluded: false }, { vector: sql`to_tsvector('english', ${searchableText(part)})`, text: part })} then ${name} end`;
  });
  const rows = await reader
    .select({ id: journalEntries.id, parts: sql<JournalPartName[]>`array_remove(array[${sql.join(holding, sql`, `)}]::text[], null)` })
    .from(journalEntries)
    .where(and(eq(journalEntries.teamId, teamId), inArray(journalEntries.id, ids)));
  return new Map(rows.map((row) => [Number(row.id), row.parts]));
}

/** A part of a found entry and where the words are in it. */
type PlacedPart = JournalPart & { matches: MatchRange[] };

/**
 * A found entry with excerpts of the parts its words were placed in, each named by its part. With
 * no word placed, it shows the beginning of the first part that holds one (`holding`), or of the entry.
 */
function hitOf(entry: JournalEntry, rank: number, parts: PlacedPart[], holding: JournalPartName[] = []): JournalHit {
  const placed = parts.filter((part) => part.matches.length > 0);
  const shown = placed.length > 0 ? placed : [parts.find((part) => holding.includes(part.name)) ?? parts[0]!];
  return {
    entry,
    rank,
    matchedSections: placed.length > 0 ? placed.map((part) => part.name) : holding,
    excerpts: shown.map((part) => ({ part: part.name, snippet: excerptsOf(part.text, part.matches) })),
  };
}

/**
 * Search over readable entries with the posts' engine (search-query.ts, search-terms.ts), best match
 * first, skipping the first `offset`; names the sections each match is in. With `countMatches`, says
 * how many match in all: with semantic search on, the entries the words find and those nearest in
 * meaning that the search fuses.
 */
export async function searchJournal(
  db: Db,
  caller: Caller,
  input: {
    query: string;
    limit: number;
    offset?: number;
    kind?: JournalKind;
    sections?: JournalSectionName[];
    agentName?: string;
    written?: WrittenBetween;
    countMatches?: boolean;
  },
): Promise<JournalSearchPage> {
  requireScope(caller, "read");
  const parsed = parseSearchQuery(validateSearchQuery(input.query));
  requireJournalFilters(parsed);
  const unknown = input.sections?.find((name) => !journalSectionNames.includes(name));
  if (unknown) throw invalid(`sections: '${unknown}' is not one of ${journalSectionNames.join(", ")}.`);
  const { textQuery: query, conditions: phrases } = searchWordsOf(parsed, searchedEntries);
  const semantic = semanticSearchOf(db);
  const meaning = semantic && parsed.clauses.length > 0 ? await queryVector(semantic, meaningOf(parsed)) : undefined;
  // An entry's code terms are not kept per section: a section counts as holding any of them.
  const matchesIn = (key: string) => {
    if (parsed.clauses.length === 0) return sql`${journalEntries.sections} ? ${key}`;
    const text = sql`coalesce(${journalEntries.sections}->>${key}, '')`;
    const vector = sql`(to_tsvector('english', ${searchableText(text)}) || coalesce(${journalEntries.searchTerms}, ''::tsvector))`;
    const section = searchWordsOf(parsed, { vector, text });
    return and(...(section.textQuery ? [sql`${vector} @@ ${section.textQuery}`] : []), ...section.conditions)!;
  };
  const readable = [
    readableBy(caller, input.agentName),
    ofKind(input.kind),
    parsed.filters.before ? lt(journalEntries.createdAt, parsed.filters.before) : undefined,
    parsed.filters.after ? gte(journalEntries.createdAt, parsed.filters.after) : undefined,
    ...writtenBetween(input.written),
  ];
  const wordMatch = [
    input.sections?.length ? sql`(${sql.join(input.sections.map(matchesIn), sql` or `)})` : undefined,
    query ? sql`${journalEntries.search} @@ ${query}` : undefined,
    ...phrases,
  ];
  const conditions = [...readable, ...wordMatch];
  const rank = query ? sql<number>`ts_rank(${journalEntries.search}, ${query})` : sql<number>`0::real`;
  const offset = input.offset ?? 0;
  // Fused with the nearest in meaning, the words' ranking is read from the top and the page cut after.
  const depth = offset + input.limit;
  const found = await boundedSearch(db, caller, async (reader) => {
    const rows = await reader
      .select({ ...entryColumns, rank })
      .from(journalEntries)
      .where(and(...conditions))
      .orderBy(...(query ? [desc(rank)] : []), desc(journalEntries.createdAt), desc(journalEntries.id))
      .limit(meaning ? depth : input.limit)
      .offset(meaning ? 0 : offset);
    const byWords = new Set(query ? rows.map((row) => Number(row.id)) : []);
    // A short page of the words' matches (not past their end) was all of them: counted, not counted again.
    const allRead = meaning ? rows.length < depth : rows.length < input.limit && (rows.length > 0 || offset === 0);
    const countOf = async (read: number, where: SQL | undefined) =>
      !input.countMatches ? undefined : allRead ? { count: read, capped: false } : await countMatching(reader, where);
    if (!semantic || !meaning) return { rows, byWords, matches: await countOf(offset + rows.length, and(...conditions)) };
    const ids = await nearestInMeaning(reader, semantic, "journal", caller.teamId, meaning, semanticCandidates(depth));
    if (ids.length === 0) return { rows: rows.slice(offset), byWords, matches: await countOf(rows.length, and(...conditions)) };
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
          ...parsed.clauses.filter((clause) => clause.excluded).map((clause) => exclusionOf(clause, searchedEntries)),
        ),
      );
    const rowOf = new Map([...nearest, ...rows].map((row) => [row.id, row]));
    const nearestIds = new Set(nearest.map((row) => row.id));
    const ranked = fuseRankings([rows.map((row) => row.id), ids.filter((id) => nearestIds.has(id))]);
    const fused = ranked.slice(offset, depth).map(({ id, score }) => ({ ...rowOf.get(id)!, rank: score }));
    const matches = await countOf(ranked.length, and(...readable, or(and(...wordMatch), inArray(journalEntries.id, [...nearestIds]))));
    return { rows: fused, byWords, matches };
  });
  const words = highlightedWords(parsed);
  // Each part is scanned on its own: a match in a later section of a long entry is placed too.
  const placed = found.rows.map(({ rank: score, ...row }) => {
    const entry = toEntry(row);
    return {
      entry,
      rank: Number(score),
      parts: journalPartsOf(entry).map((part) => ({ ...part, matches: findMatches(part.text, words) })),
    };
  });
  const unplaced = placed
    .filter((hit) => found.byWords.has(hit.entry.id) && hit.parts.every((part) => part.matches.length === 0))
    .map((hit) => hit.entry.id);
  const holding =
    words.length > 0 && unplaced.length > 0
      ? await boundedSearch(db, caller, (reader) => partsHoldingWords(reader, caller.teamId, unplaced, words))
      : new Map<number, JournalPartName[]>();
  const hits = placed.map((hit) => hitOf(hit.entry, hit.rank, hit.parts, holding.get(hit.entry.id)));
  return { hits, matches: found.matches };
}
