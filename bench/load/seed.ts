import { sql } from "drizzle-orm";
import { addAgentToken } from "../../server/domain/agents.ts";
import { rowsOf, type Db } from "../../server/db/client.ts";
import { cli } from "../../server/domain/callers.ts";
import { deriveMissingSearchTerms } from "../../server/domain/search-backfill.ts";

export type SeededData = {
  /** One token per team, for the HTTP targets; teams[i] is the team of tokens[i]. */
  tokens: string[];
  teamIds: string[];
  agentIds: string[];
  posts: number;
};

const words = [
  "flaky",
  "test",
  "cache",
  "migration",
  "deadlock",
  "timeout",
  "fixture",
  "port",
  "locale",
  "retry",
  "schema",
  "index",
  "query",
  "refactor",
  "parser",
  "token",
  "session",
  "deploy",
  "rollback",
  "queue",
  "worker",
  "memory",
  "leak",
  "latency",
  "benchmark",
  "thread",
  "review",
  "lint",
  "build",
  "release",
];

/**
 * Fills an empty database with `teams` teams of `agentsPerTeam` agents and `posts` posts spread over
 * them, one set-based INSERT so a million rows take seconds, not an hour of round trips. Each post
 * names a file and an identifier (`server/cache/session.ts`, `cacheSessionHandler`) for code search.
 * The posts' indexes are built once the rows and their search terms are in, as a restore builds
 * them, not updated row by row: ten million posts seed in minutes, and the indexes end the same.
 */
export async function seedLoadData(db: Db, options: { teams: number; agentsPerTeam: number; posts: number }): Promise<SeededData> {
  const wordList = sql.raw(`(array[${words.map((word) => `'${word}'`).join(",")}])`);
  await db.execute(sql`
    insert into teams (slug, name)
    select 'load-' || g, 'Load team ' || g from generate_series(1, ${options.teams}) g`);
  await db.execute(sql`
    insert into agents (team_id, name)
    select t.id, 'agent-' || g from teams t, generate_series(1, ${options.agentsPerTeam}) g where t.slug like 'load-%'`);
  const agentCount = options.teams * options.agentsPerTeam;
  const rebuildIndexes = await dropPostIndexes(db);
  await db.execute(sql`
    with numbered as (
      select id, team_id, name, (row_number() over (order by id)) - 1 as n from agents
    )
    insert into posts (team_id, author_kind, agent_id, author_name, content, tags, created_at)
    select a.team_id, 'agent', a.id, a.name,
      'Note ' || g || ': the ' || ${wordList}[1 + g % 30] || ' ' || ${wordList}[1 + (g / 30) % 30]
        || ' problem in the ' || ${wordList}[1 + (g / 900) % 30] || ' module, in server/' || ${wordList}[1 + (g / 30) % 30]
        || '/' || ${wordList}[1 + g % 30] || '.ts (' || ${wordList}[1 + (g / 30) % 30] || initcap(${wordList}[1 + g % 30])
        || 'Handler); ' || md5(g::text),
      array['tag' || (g % 20)],
      now() - make_interval(secs => ${options.posts} - g)
    from generate_series(1, ${options.posts}) g
    join numbered a on a.n = g % ${agentCount}`);
  // The rows went in raw: their code search terms are derived as start-up derives an older board's.
  await deriveMissingSearchTerms(db);
  // Deriving wrote every row again: rewritten without the dead versions, the table is the size of a
  // board that grew post by post (a million posts: 1.2 GB instead of 1.7 GB).
  await db.execute(sql`vacuum full posts`);
  await rebuildIndexes();
  await db.execute(sql`analyze`);
  const teamRows = await db.execute<{ id: string }>(sql`select id from teams where slug like 'load-%' order by slug`);
  const teamIds = rowsOf<{ id: string }>(teamRows).map((row) => row.id);
  const agentRows = await db.execute<{ id: string }>(sql`select id from agents order by id`);
  const tokens: string[] = [];
  for (const teamId of teamIds) {
    tokens.push((await addAgentToken(db, cli, { teamId, name: "load-client" })).token);
  }
  return { tokens, teamIds, agentIds: rowsOf<{ id: string }>(agentRows).map((row) => row.id), posts: options.posts };
}

/**
 * Drops the posts' secondary indexes, keeping the key and the index that finds rows without search
 * terms (deriving them reads it); returns what builds them again from their own definitions.
 */
async function dropPostIndexes(db: Db): Promise<() => Promise<void>> {
  const indexes = rowsOf<{ name: string; definition: string }>(
    await db.execute(sql`
      select i.relname as name, pg_get_indexdef(i.oid) as definition
      from pg_index x join pg_class i on i.oid = x.indexrelid
      where x.indrelid = 'posts'::regclass and not x.indisprimary and i.relname <> 'posts_search_terms_missing_idx'`),
  );
  for (const index of indexes) await db.execute(sql`drop index ${sql.identifier(index.name)}`);
  return () =>
    db.transaction(async (tx) => {
      // Postgres's default of 64 MB makes a full-text index over millions of rows build in many passes.
      await tx.execute(sql`set local maintenance_work_mem = '256MB'`);
      for (const index of indexes) await tx.execute(sql.raw(index.definition));
    });
}

/** The length of a long post: the longest a post may be by default. */
export const longPostChars = 16_000;

/**
 * A 16 KB post of made-up words (few repeat, as in logs and code), with "deadlock" about one word
 * in fifty, ending with `marker`: the same text for the same seed.
 */
export function longPost(seed: number, marker = ""): string {
  const syllables = ["ka", "lo", "mi", "ner", "tu", "vas", "rel", "po", "sin", "dra", "que", "fo", "ab", "zel", "tor", "im"];
  let state = seed * 7919 + 1;
  const words: string[] = [];
  for (let length = 0; length < longPostChars - marker.length - 1; ) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    let word = "";
    for (let rest = state, count = 2 + (state % 3); count > 0; count--, rest = Math.floor(rest / 16)) word += syllables[rest % 16];
    if (state % 50 === 0) word = "deadlock";
    words.push(word);
    length += word.length + 1;
  }
  return `${words.join(" ")} ${marker}`.slice(-longPostChars);
}
