import { and, desc, eq, gte, isNotNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { journalEmbeddings, postEmbeddings } from "../db/schema/index.ts";

export type EmbeddedKind = "posts" | "journal";

/**
 * The newest vectors a process keeps of each team, per kind. Similarity is worked out here, over
 * these, rather than in SQL: without pgvector, a dot product over `real[]` in SQL cost 0.35 s
 * (Postgres) and 0.7 s (PGlite) for 10,000 posts, a scan in memory a few milliseconds
 * (docs/decisions/032-semantic-search.md).
 */
export const maxVectorsPerTeam = 50_000;

type TeamVectors = {
  vectors: Map<number, Float32Array>;
  /** Vectors stored by transactions from this one on may not have been seen yet. */
  fromTx: string | undefined;
  refreshing: Promise<void> | undefined;
};

const tables = {
  posts: { table: postEmbeddings, id: postEmbeddings.postId },
  journal: { table: journalEmbeddings, id: journalEmbeddings.entryId },
} as const;

export class SemanticIndex {
  private readonly teams = new Map<string, TeamVectors>();

  constructor(private readonly model: string) {}

  /** The ids nearest to the query vector, nearest first, down to `minSimilarity` (a cosine). */
  async nearest(
    db: Db,
    kind: EmbeddedKind,
    teamId: string,
    query: Float32Array,
    options: { count: number; minSimilarity: number },
  ): Promise<{ id: number; similarity: number }[]> {
    const team = await this.refreshed(db, kind, teamId);
    const found: { id: number; similarity: number }[] = [];
    for (const [id, vector] of team.vectors) {
      if (vector.length !== query.length) continue;
      let similarity = 0;
      for (let index = 0; index < vector.length; index++) similarity += vector[index]! * query[index]!;
      if (similarity >= options.minSimilarity) found.push({ id, similarity });
    }
    found.sort((a, b) => b.similarity - a.similarity || b.id - a.id);
    return found.slice(0, options.count);
  }

  private async refreshed(db: Db, kind: EmbeddedKind, teamId: string): Promise<TeamVectors> {
    const key = `${kind}:${teamId}`;
    let team = this.teams.get(key);
    if (!team) {
      team = { vectors: new Map(), fromTx: undefined, refreshing: undefined };
      this.teams.set(key, team);
    }
    // Searches that arrive during a refresh share it.
    team.refreshing ??= this.load(db, kind, teamId, team).finally(() => {
      team.refreshing = undefined;
    });
    await team.refreshing;
    return team;
  }

  /**
   * Loads what was embedded since the last load: rows of transactions from the last snapshot's
   * oldest running one on, since a transaction older than a row already seen may commit after it.
   * The first load takes the team's newest vectors.
   */
  private async load(db: Db, kind: EmbeddedKind, teamId: string, team: TeamVectors): Promise<void> {
    const { table, id } = tables[kind];
    const [snapshot] = await db.select({ xmin: sql<string>`pg_snapshot_xmin(pg_current_snapshot())::text` }).from(sql`(select 1) as one`);
    const rows = await db
      .select({ id, embedding: table.embedding })
      .from(table)
      .where(
        and(
          eq(table.teamId, teamId),
          eq(table.model, this.model),
          isNotNull(table.embedding),
          team.fromTx === undefined ? undefined : gte(table.embeddedTx, sql`${team.fromTx}::xid8`),
        ),
      )
      .orderBy(desc(id))
      .limit(team.fromTx === undefined ? maxVectorsPerTeam : 10 * maxVectorsPerTeam);
    for (const row of rows) team.vectors.set(Number(row.id), Float32Array.from(row.embedding!));
    team.fromTx = snapshot!.xmin;
    if (team.vectors.size > maxVectorsPerTeam) {
      const oldest = [...team.vectors.keys()].sort((a, b) => a - b).slice(0, team.vectors.size - maxVectorsPerTeam);
      for (const evicted of oldest) team.vectors.delete(evicted);
    }
  }
}
