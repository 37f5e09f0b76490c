import type { Db } from "../db/client.ts";
import { logger } from "../logger.ts";
import { embedTexts, EmbeddingsError, queryTimeoutMs, type EmbeddingsSettings } from "./embeddings-client.ts";
import type { ParsedSearch } from "./search-query.ts";
import { SemanticIndex, type EmbeddedKind } from "./semantic-index.ts";

/**
 * Semantic search, when an embeddings endpoint is configured (docs/decisions/032-semantic-search.md):
 * the settings, the vectors this process keeps, recent queries' vectors, and whether the endpoint
 * answers. Set once at start-up per database; without it, search is full-text only.
 */
export type SemanticSearch = {
  settings: EmbeddingsSettings;
  index: SemanticIndex;
  queryVectors: Map<string, Float32Array>;
  /** After a failed call, searches do not wait for the endpoint again until then (ms since the epoch). */
  unavailableUntil: number;
};

const semanticSearches = new WeakMap<Db, SemanticSearch>();
const cachedQueries = 500;
/** How long searches skip the endpoint after it failed: they search the words alone meanwhile. */
const skipAfterFailureMs = 10_000;

/** Turns semantic search on for this database in this process (at start-up). */
export function useSemanticSearch(db: Db, settings: EmbeddingsSettings): SemanticSearch {
  const search: SemanticSearch = { settings, index: new SemanticIndex(settings.model), queryVectors: new Map(), unavailableUntil: 0 };
  semanticSearches.set(db, search);
  return search;
}

export function semanticSearchOf(db: Db): SemanticSearch | undefined {
  return semanticSearches.get(db);
}

/** Notes that the endpoint failed to answer, so searches stop waiting for it for a while. */
export function endpointFailed(search: SemanticSearch): void {
  search.unavailableUntil = Date.now() + skipAfterFailureMs;
}

/** Notes that the endpoint answered (the background worker got vectors): searches use it again at once. */
export function endpointAnswered(search: SemanticSearch): void {
  search.unavailableUntil = 0;
}

/** The query's vector, or undefined when the endpoint cannot give one now (the search then uses the words alone). */
export async function queryVector(search: SemanticSearch, text: string): Promise<Float32Array | undefined> {
  // Only excluded words: nothing to be near to.
  if (!text.trim()) return undefined;
  const cached = search.queryVectors.get(text);
  if (cached) return cached;
  if (Date.now() < search.unavailableUntil) return undefined;
  try {
    const [vector] = await embedTexts(search.settings, [text], { timeoutMs: queryTimeoutMs });
    if (search.queryVectors.size >= cachedQueries) search.queryVectors.delete(search.queryVectors.keys().next().value!);
    search.queryVectors.set(text, vector!);
    return vector;
  } catch (error) {
    if (!(error instanceof EmbeddingsError)) throw error;
    if (error.kind === "unavailable") endpointFailed(search);
    logger.warn({ error: error.message }, "search without its semantic half: the query could not be embedded");
    return undefined;
  }
}

/**
 * The ids of the team's posts or journal entries nearest in meaning to the query's vector, nearest
 * first, at most `count`.
 */
export async function nearestInMeaning(
  db: Db,
  search: SemanticSearch,
  kind: EmbeddedKind,
  teamId: string,
  vector: Float32Array,
  count: number,
): Promise<number[]> {
  const nearest = await search.index.nearest(db, kind, teamId, vector, { count, minSimilarity: search.settings.minSimilarity });
  return nearest.map(({ id }) => id);
}

/** The words a query looks for, as text to embed: its phrases and words, not what it excludes or its operators. */
export function meaningOf(parsed: ParsedSearch): string {
  return parsed.clauses
    .filter((clause) => !clause.excluded)
    .flatMap((clause) => clause.anyOf.map((word) => word.text))
    .join(" ");
}

/** How many of the nearest a hybrid search fuses for a page that ends at `depth`: more than the page, since filters drop some. */
export function semanticCandidates(depth: number): number {
  return Math.max(100, 4 * depth);
}

/** The constant of reciprocal rank fusion (Cormack et al., 2009): 60 keeps one list's first place from outweighing agreement. */
const fusionConstant = 60;

/**
 * Reciprocal rank fusion: each id scores the sum of 1 / (60 + its place) over the rankings it is in,
 * best first (ties: the larger, newer id first).
 */
export function fuseRankings(rankings: number[][]): { id: number; score: number }[] {
  const scores = new Map<number, number>();
  for (const ranking of rankings) {
    for (const [place, id] of ranking.entries()) scores.set(id, (scores.get(id) ?? 0) + 1 / (fusionConstant + place + 1));
  }
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score || b.id - a.id);
}
