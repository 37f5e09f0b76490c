import { inArray, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Db } from "../db/client.ts";
import { journalEntries, posts } from "../db/schema/index.ts";
import { logger } from "../logger.ts";
import { embedTexts, EmbeddingsError } from "./embeddings-client.ts";
import { journalSectionNames } from "./journal-sections.ts";
import { endpointAnswered, endpointFailed, type SemanticSearch } from "./semantic-search.ts";
import type { EmbeddedKind } from "./semantic-index.ts";

/**
 * Embeds posts and journal entries in the background. The backlog is what has no embedding row for
 * the model yet, so nothing is queued at write time and a post written while the endpoint was down,
 * before semantic search was turned on, or by an import is embedded all the same. A process claims a
 * batch by inserting its rows with a lease (`retry_at`), so several processes never embed the same
 * text. An endpoint that is down is waited for, doubling the wait up to a minute, without counting
 * against the texts; one that refuses a text is asked again a few times, then that text is left out.
 */
export const embeddingBatchSize = 32;
export const maxEmbeddingAttempts = 5;
const leaseSeconds = 120;
const idlePollMs = 1_000;
const maxBackoffMs = 60_000;
/** Ids are handed out before their transactions commit, so a scan from the last id claimed starts this far below it. */
const idMargin = 1_000;
/** An import keeps its rows' ids, which may be far below the cursor: every so often a scan starts from the first row again. */
const fullScanEveryMs = 10 * 60_000;

type Source = {
  table: string;
  idColumn: string;
  /** The rows' own table, to find those not yet embedded. */
  from: SQL;
  texts(db: Db, ids: number[]): Promise<Map<number, string>>;
};

const sources: Record<EmbeddedKind, Source> = {
  posts: {
    table: "post_embeddings",
    idColumn: "post_id",
    from: sql`posts as source where source.deleted_at is null`,
    async texts(db, ids) {
      const rows = await db.select({ id: posts.id, content: posts.content, tags: posts.tags }).from(posts).where(inArray(posts.id, ids));
      return new Map(rows.map((row) => [row.id, [row.content, ...row.tags.map((tag) => `#${tag}`)].join("\n")]));
    },
  },
  journal: {
    table: "journal_embeddings",
    idColumn: "entry_id",
    from: sql`journal_entries as source where true`,
    async texts(db, ids) {
      const rows = await db
        .select({ id: journalEntries.id, content: journalEntries.content, sections: journalEntries.sections })
        .from(journalEntries)
        .where(inArray(journalEntries.id, ids));
      return new Map(
        rows.map((row) => [row.id, [...journalSectionNames.map((name) => row.sections?.[name]), row.content].filter(Boolean).join("\n")]),
      );
    },
  },
};

/**
 * Takes up to `room` rows to embed: first those whose wait after a failure is over (or whose lease
 * ran out), then new ones, oldest first from `fromId` on (none when `fromId` is undefined).
 */
type Claimed = { ids: number[]; newest: number; complete: boolean };

async function claim(db: Db, source: Source, model: string, room: number, fromId: number | undefined): Promise<Claimed> {
  const table = sql.identifier(source.table);
  const idColumn = sql.identifier(source.idColumn);
  const lease = sql`now() + make_interval(secs => ${leaseSeconds})`;
  const retried = await db.execute<{ id: string }>(sql`
    update ${table} set attempts = attempts + 1, retry_at = ${lease}
    where (${idColumn}, model) in (
      select ${idColumn}, model from ${table}
      where model = ${model} and embedding is null and attempts < ${maxEmbeddingAttempts} and retry_at <= now()
      order by retry_at limit ${room} for update skip locked)
    returning ${idColumn} as id`);
  const ids = rowsOf<{ id: string }>(retried).map((row) => Number(row.id));
  if (fromId === undefined) return { ids, newest: 0, complete: false };
  if (ids.length >= room) return { ids, newest: fromId, complete: false };
  const fresh = await db.execute<{ id: string }>(sql`
    insert into ${table} (${idColumn}, team_id, model, attempts, retry_at)
    select source.id, source.team_id, ${model}, 1, ${lease} from ${source.from}
      and source.id > ${fromId}
      and not exists (select 1 from ${table} as done where done.${idColumn} = source.id and done.model = ${model})
    order by source.id limit ${room - ids.length}
    on conflict do nothing
    returning ${idColumn} as id`);
  const freshIds = rowsOf<{ id: string }>(fresh).map((row) => Number(row.id));
  // Room to spare: every row above fromId is claimed now.
  return { ids: [...ids, ...freshIds], newest: Math.max(fromId, ...freshIds), complete: freshIds.length < room - ids.length };
}

/** postgres.js returns the rows, PGlite a result holding them. */
async function store(db: Db, source: Source, model: string, vectors: Map<number, Float32Array>): Promise<void> {
  if (vectors.size === 0) return;
  const values = sql.join(
    [...vectors].map(
      ([id, vector]) =>
        sql`(${id}::bigint, decode(${Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("hex")}, 'hex'))`,
    ),
    sql`, `,
  );
  await db.execute(sql`
    update ${sql.identifier(source.table)} as target
    set embedding = stored.embedding, retry_at = null, last_error = null, embedded_tx = pg_current_xact_id()
    from (values ${values}) as stored(id, embedding)
    where target.${sql.identifier(source.idColumn)} = stored.id and target.model = ${model}`);
}

/** Rows the endpoint could not take now: claimed again after the wait, their attempt not counted. */
async function release(db: Db, source: Source, model: string, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  const idColumn = sql.identifier(source.idColumn);
  await db.execute(sql`
    update ${sql.identifier(source.table)} set attempts = attempts - 1, retry_at = now()
    where ${idColumn} in (${sql.join(
      ids.map((id) => sql`${id}`),
      sql`, `,
    )}) and model = ${model} and embedding is null`);
}

/** A text the endpoint refused: tried again after 1, 4, 16, 64 minutes, then left out. */
async function refuse(db: Db, source: Source, model: string, id: number, reason: string): Promise<void> {
  await db.execute(sql`
    update ${sql.identifier(source.table)}
    set last_error = ${reason.slice(0, 500)}, retry_at = now() + make_interval(mins => power(4, attempts - 1)::int)
    where ${sql.identifier(source.idColumn)} = ${id} and model = ${model}`);
}

/** Embeds one batch of one kind; returns what it claimed. Throws when the endpoint is unavailable. */
async function embedBatch(
  db: Db,
  search: SemanticSearch,
  kind: EmbeddedKind,
  fromId: number | undefined,
  signal: AbortSignal,
): Promise<Claimed> {
  const source = sources[kind];
  const { model } = search.settings;
  const claimed = await claim(db, source, model, embeddingBatchSize, fromId);
  const { ids } = claimed;
  if (ids.length === 0) return claimed;
  const texts = await source.texts(db, ids);
  // A row deleted since it was claimed has no text: its embedding row went with it.
  const batch = ids.filter((id) => texts.has(id));
  try {
    const vectors = await embedTexts(
      search.settings,
      batch.map((id) => texts.get(id)!),
      { signal },
    );
    endpointAnswered(search);
    await store(db, source, model, new Map(batch.map((id, index) => [id, vectors[index]!])));
  } catch (error) {
    if (!(error instanceof EmbeddingsError)) throw error;
    if (error.kind === "unavailable") {
      await release(db, source, model, batch);
      throw error;
    }
    await embedOneByOne(db, search, source, batch, texts, signal);
  }
  return claimed;
}

/** After a batch was refused, finds which texts the endpoint refuses by asking for each alone. */
async function embedOneByOne(
  db: Db,
  search: SemanticSearch,
  source: Source,
  ids: number[],
  texts: Map<number, string>,
  signal: AbortSignal,
): Promise<void> {
  const { model } = search.settings;
  for (const [index, id] of ids.entries()) {
    try {
      const [vector] = await embedTexts(search.settings, [texts.get(id)!], { signal });
      endpointAnswered(search);
      await store(db, source, model, new Map([[id, vector!]]));
    } catch (error) {
      if (!(error instanceof EmbeddingsError)) throw error;
      if (error.kind === "unavailable") {
        await release(db, source, model, ids.slice(index));
        throw error;
      }
      logger.warn({ kind: source.table, id, error: error.message }, "the embeddings endpoint refused a text");
      await refuse(db, source, model, id, error.message);
    }
  }
}

async function newestId(db: Db, kind: EmbeddedKind): Promise<number> {
  const table = kind === "posts" ? posts : journalEntries;
  const [row] = await db.select({ id: sql<string | null>`max(${table.id})` }).from(table);
  return Number(row?.id ?? 0);
}

export type EmbeddingWorker = { stop(): Promise<void> };

/** Embeds the backlog, then what is written, until stopped (see the module comment). */
export function embedInBackground(db: Db, search: SemanticSearch): EmbeddingWorker {
  let stopped = false;
  // Stopping cuts a request in flight short; its rows are given back, as when the endpoint is down.
  const stopping = new AbortController();
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async () => {
    // Everything up to these ids has been claimed (some perhaps by another process).
    const claimedUpTo: Record<EmbeddedKind, number> = { posts: 0, journal: 0 };
    let lastFullScan = Date.now();
    let backoffMs = 0;
    let embedded = 0;
    while (!stopped) {
      let waitMs = idlePollMs;
      try {
        if (Date.now() - lastFullScan > fullScanEveryMs) {
          claimedUpTo.posts = claimedUpTo.journal = 0;
          lastFullScan = Date.now();
        }
        let claimed = 0;
        for (const kind of ["posts", "journal"] as const) {
          // Read before the claim: a claim with room to spare took every row up to it.
          const newest = await newestId(db, kind);
          // Nothing written since everything was claimed: only failed rows may be due, so no scan for new ones.
          const fromId = newest > claimedUpTo[kind] ? Math.max(0, claimedUpTo[kind] - idMargin) : undefined;
          const batch = await embedBatch(db, search, kind, fromId, stopping.signal);
          claimed += batch.ids.length;
          claimedUpTo[kind] = Math.max(claimedUpTo[kind], batch.newest, batch.complete ? newest : 0);
        }
        if (backoffMs > 0) logger.info("the embeddings endpoint answers again");
        backoffMs = 0;
        embedded += claimed;
        if (claimed > 0) waitMs = 0;
        else if (embedded > 0) {
          logger.info({ rows: embedded }, "embedded posts and journal entries");
          embedded = 0;
        }
      } catch (error) {
        backoffMs = Math.min(maxBackoffMs, Math.max(1_000, backoffMs * 2));
        waitMs = backoffMs;
        if (stopped) break;
        if (error instanceof EmbeddingsError) endpointFailed(search);
        logger.warn({ error: String(error), retryInMs: backoffMs }, "embedding in the background failed; trying again later");
      }
      if (waitMs > 0 && !stopped) await sleep(waitMs);
    }
  };
  const running = run();
  return {
    async stop() {
      stopped = true;
      stopping.abort();
      wake?.();
      await running;
    },
  };
}
