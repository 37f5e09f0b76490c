import { and, desc, eq, gte, inArray, isNotNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { journalEmbeddings, postEmbeddings } from "../db/schema/index.ts";

export type EmbeddedKind = "posts" | "journal";

/**
 * The newest vectors a process keeps of each team, per kind. Similarity is worked out here, over
 * these, rather than in SQL: without pgvector, a dot product over `real[]` in SQL cost 0.35 s
 * (Postgres) and 0.7 s (PGlite) for 10,000 posts of 384 dimensions, a scan in memory 11 to 37 ms
 * (docs/decisions/032-semantic-search.md). The scan holds the event loop, so its length is capped
 * in numbers, not vectors: 50,000 vectors of 384 dimensions, 12,500 of 1,536 (77 MB either way).
 */
export const maxVectorsPerTeam = 50_000;
export const maxScannedNumbersPerTeam = 50_000 * 384;

/** One team's vectors, row after row in one array: a scan reads memory in order. */
class VectorRows {
  dimensions = 0;
  count = 0;
  ids: number[] = [];
  matrix = new Float32Array(0);
  private readonly rowOf = new Map<number, number>();

  has(id: number): boolean {
    return this.rowOf.has(id);
  }

  set(id: number, vector: Float32Array): void {
    if (this.dimensions === 0) this.dimensions = vector.length;
    // Another length is another model's vector, which no query of this model can be compared with.
    if (vector.length !== this.dimensions) return;
    let row = this.rowOf.get(id);
    if (row === undefined) {
      row = this.count++;
      if (this.count * this.dimensions > this.matrix.length) {
        const grown = new Float32Array(Math.max(1024, this.count * 2) * this.dimensions);
        grown.set(this.matrix);
        this.matrix = grown;
      }
      this.ids[row] = id;
      this.rowOf.set(id, row);
    }
    this.matrix.set(vector, row * this.dimensions);
  }

  /** Keeps the newest (largest ids) `max` rows. */
  keepNewest(max: number): void {
    if (this.count <= max) return;
    const kept = [...this.ids.keys()].sort((a, b) => this.ids[b]! - this.ids[a]!).slice(0, max);
    const rows = kept.map((row) => ({ id: this.ids[row]!, vector: this.matrix.slice(row * this.dimensions, (row + 1) * this.dimensions) }));
    this.count = 0;
    this.ids = [];
    this.rowOf.clear();
    for (const { id, vector } of rows) this.set(id, vector);
  }
}

type TeamVectors = {
  rows: VectorRows;
  /** Vectors stored by transactions from this one on may not have been seen yet. */
  fromTx: string | undefined;
  refreshing: Promise<void> | undefined;
};

const tables = {
  posts: { table: postEmbeddings, id: postEmbeddings.postId },
  journal: { table: journalEmbeddings, id: journalEmbeddings.entryId },
} as const;

function vectorOf(base64: string): Float32Array {
  const bytes = Buffer.from(base64, "base64");
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

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
    const { rows } = await this.refreshed(db, kind, teamId);
    const found: { id: number; similarity: number }[] = [];
    if (rows.dimensions !== query.length) return found;
    const { matrix, dimensions } = rows;
    for (let row = 0, start = 0; row < rows.count; row++, start += dimensions) {
      let similarity = 0;
      for (let index = 0; index < dimensions; index++) similarity += matrix[start + index]! * query[index]!;
      if (similarity >= options.minSimilarity) found.push({ id: rows.ids[row]!, similarity });
    }
    found.sort((a, b) => b.similarity - a.similarity || b.id - a.id);
    return found.slice(0, options.count);
  }

  private async refreshed(db: Db, kind: EmbeddedKind, teamId: string): Promise<TeamVectors> {
    const key = `${kind}:${teamId}`;
    let team = this.teams.get(key);
    if (!team) {
      team = { rows: new VectorRows(), fromTx: undefined, refreshing: undefined };
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
   * Their ids first, then the vectors not held yet: a long transaction anywhere in the cluster holds
   * that oldest one back, and the same rows then come back at every load. The first load takes the
   * team's newest vectors.
   */
  private async load(db: Db, kind: EmbeddedKind, teamId: string, team: TeamVectors): Promise<void> {
    const { table, id } = tables[kind];
    const ofTeam = and(eq(table.teamId, teamId), eq(table.model, this.model), isNotNull(table.embedding));
    const [snapshot] = await db.select({ xmin: sql<string>`pg_snapshot_xmin(pg_current_snapshot())::text` }).from(sql`(select 1) as one`);
    let unseen: number[] | undefined;
    if (team.fromTx !== undefined) {
      const recent = await db
        .select({ id })
        .from(table)
        .where(and(ofTeam, gte(table.embeddedTx, sql`${team.fromTx}::xid8`)));
      unseen = recent.map((row) => Number(row.id)).filter((recentId) => !team.rows.has(recentId));
    }
    if (unseen?.length !== 0) {
      // As base64 text: PGlite turns bytea into bytes in JavaScript a character at a time, five times slower.
      const rows = await db
        .select({ id, embedding: sql<string>`encode(${table.embedding}, 'base64')` })
        .from(table)
        .where(and(ofTeam, unseen ? inArray(id, unseen) : undefined))
        .orderBy(desc(id))
        .limit(maxVectorsPerTeam);
      for (const row of rows) team.rows.set(Number(row.id), vectorOf(row.embedding));
    }
    team.fromTx = snapshot!.xmin;
    team.rows.keepNewest(Math.min(maxVectorsPerTeam, Math.floor(maxScannedNumbersPerTeam / Math.max(1, team.rows.dimensions))));
  }
}
