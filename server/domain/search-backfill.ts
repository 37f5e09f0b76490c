import { and, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { journalEntries, posts } from "../db/schema/index.ts";
import { searchTermsOf, searchTermsVector } from "./search-terms.ts";

/**
 * Rows derived per statement: a few hundred keep each update's transaction short. Each batch starts
 * after the last one's highest id: the rows derived before leave dead entries at the front of the
 * "missing terms" index until a vacuum, and a scan from the front stepped over all of them, batch
 * after batch (ten million rows: 20,000 pages and 540 ms a batch once 7 million were derived).
 */
const batchSize = 500;

/**
 * Derives the search terms of every post and journal entry that has none yet: rows written before
 * code-aware search, by raw inserts (the load benchmark's seeding) or by an import. Runs at start-up
 * and after an import; returns how many rows it derived.
 */
export async function deriveMissingSearchTerms(db: Db): Promise<number> {
  return (await derivePosts(db)) + (await deriveJournalEntries(db));
}

async function derivePosts(db: Db): Promise<number> {
  let derived = 0;
  for (let after = 0; ; ) {
    const rows = await db
      .select({ id: posts.id, content: posts.content, tags: posts.tags, authorName: posts.authorName })
      .from(posts)
      .where(and(isNull(posts.searchTerms), gt(posts.id, after)))
      .orderBy(posts.id)
      .limit(batchSize);
    if (rows.length === 0) return derived;
    const vectors = rows.map((row) => ({
      id: row.id,
      vector: searchTermsVector(searchTermsOf({ texts: [row.content], tags: row.tags, authorName: row.authorName })),
    }));
    await storeTerms(db, "posts", vectors);
    derived += rows.length;
    after = rows.at(-1)!.id;
  }
}

async function deriveJournalEntries(db: Db): Promise<number> {
  let derived = 0;
  for (let after = 0; ; ) {
    const rows = await db
      .select({
        id: journalEntries.id,
        content: journalEntries.content,
        sections: journalEntries.sections,
        authorName: journalEntries.authorName,
      })
      .from(journalEntries)
      .where(and(isNull(journalEntries.searchTerms), gt(journalEntries.id, after)))
      .orderBy(journalEntries.id)
      .limit(batchSize);
    if (rows.length === 0) return derived;
    const vectors = rows.map((row) => ({
      id: row.id,
      vector: searchTermsVector(searchTermsOf({ texts: [row.content, ...Object.values(row.sections ?? {})], authorName: row.authorName })),
    }));
    await storeTerms(db, "journal_entries", vectors);
    derived += rows.length;
    after = rows.at(-1)!.id;
  }
}

async function storeTerms(db: Db, table: "posts" | "journal_entries", vectors: { id: number; vector: string }[]): Promise<void> {
  const values = sql.join(
    vectors.map(({ id, vector }) => sql`(${id}::bigint, ${vector}::tsvector)`),
    sql`, `,
  );
  await db.execute(
    sql`update ${sql.identifier(table)} as target set search_terms = derived.terms from (values ${values}) as derived(id, terms) where target.id = derived.id`,
  );
}
