import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../server/db/client.ts";
import { runBotboard, serveBotboard, stop } from "./support/cli.ts";
import { databaseKinds, freshDatabase } from "./support/server.ts";

const shipped = fileURLToPath(new URL("../migrations", import.meta.url));
type Journal = { entries: { tag: string }[] };
const journal = JSON.parse(readFileSync(join(shipped, "meta", "_journal.json"), "utf8")) as Journal;

/** The migrations folder as it was when only the first `count` migrations existed. */
function olderMigrations(count: number): string {
  const folder = mkdtempSync(join(tmpdir(), "botboard-older-migrations-"));
  cpSync(shipped, folder, { recursive: true });
  writeFileSync(join(folder, "meta", "_journal.json"), JSON.stringify({ ...journal, entries: journal.entries.slice(0, count) }));
  return folder;
}

const aliceToken = `bb_${"upgradealice".repeat(5).slice(0, 52)}`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * A team's life under the first schema (0000_init), written the way that version wrote it: every
 * table holds rows, including a thread, a read position and secrets only hashes of which are kept.
 */
const rowsUnderTheFirstSchema = `
insert into teams (id, slug, name, agent_instructions, created_at) values
  ('00000000-0000-4000-8000-000000000001', 'old-team', 'Old team', 'Post findings.', '2026-11-20T09:00:00Z');
insert into users (id, team_id, username, display_name, password_hash, role, created_at) values
  ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'ada', 'Ada', 'scrypt$16384$8$1$c2FsdA$aGFzaA', 'admin', '2026-11-20T09:01:00Z');
insert into sessions (id, user_id, expires_at, created_at) values
  ('${sha256("session")}', '00000000-0000-4000-8000-000000000002', '2036-01-01T00:00:00Z', '2026-11-20T09:02:00Z');
insert into invites (id, team_id, role, expires_at, used_at, created_at) values
  ('${sha256("invite")}', '00000000-0000-4000-8000-000000000001', 'member', '2026-11-20T10:00:00Z', null, '2026-11-20T09:03:00Z');
insert into agents (id, team_id, name, created_at, last_seen_at) values
  ('00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-000000000001', 'alice', '2026-11-20T09:04:00Z', '2026-11-20T09:30:00Z'),
  ('00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-000000000001', 'bob', '2026-11-20T09:05:00Z', null);
insert into agent_tokens (id, agent_id, team_id, hash, prefix, scopes, pick_name, created_at) values
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-000000000001',
   '${sha256(aliceToken)}', '${aliceToken.slice(0, 11)}', '{read,write}', false, '2026-11-20T09:04:00Z'),
  ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-000000000001',
   '${sha256("bob")}', 'bb_bobbobbo', '{read,write}', false, '2026-11-20T09:05:00Z');
insert into posts (team_id, author_kind, agent_id, token_id, author_name, content, tags, parent_id, root_id, created_at) values
  ('00000000-0000-4000-8000-000000000001', 'agent', '00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-0000000000a1',
   'alice', 'The cache key ignores the locale.', '{finding}', null, null, '2026-11-20T09:10:00Z'),
  ('00000000-0000-4000-8000-000000000001', 'agent', '00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-0000000000b1',
   'bob', 'Confirmed; I will fix it.', '{}', 1, 1, '2026-11-20T09:11:00Z'),
  ('00000000-0000-4000-8000-000000000001', 'human', null, null, 'ada', 'Thanks, both.', '{}', 1, 1, '2026-11-20T09:12:00Z');
update posts set user_id = '00000000-0000-4000-8000-000000000002' where author_kind = 'human';
insert into read_cursors (agent_id, reader_name, team_id, last_post_id, updated_at) values
  ('00000000-0000-4000-8000-00000000000a', '', '00000000-0000-4000-8000-000000000001', 1, '2026-11-20T09:10:30Z');
insert into journal_entries (team_id, agent_id, token_id, author_name, sections, content, created_at) values
  ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-0000000000a1',
   'alice', '{"technical_insights": "Locale belongs in every cache key."}', null, '2026-11-20T09:13:00Z');
insert into audit_log (team_id, actor_kind, actor_name, action, target, details, created_at) values
  ('00000000-0000-4000-8000-000000000001', 'cli', 'cli', 'agent.created', 'alice', '{"scopes": ["read", "write"]}', '2026-11-20T09:04:00Z');
insert into mcp_sessions (id, token_id, team_id, display_name, created_at, last_used_at) values
  ('${sha256("mcp")}', '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', null, '2026-11-20T09:20:00Z', '2026-11-20T09:21:00Z');
insert into rate_limit_buckets (key, tokens, updated_at) values ('token:00000000-0000-4000-8000-0000000000a1', 42.5, '2026-11-20T09:21:00Z');
`;

const tablesOfTheFirstSchema = [
  "teams",
  "users",
  "sessions",
  "invites",
  "agents",
  "agent_tokens",
  "posts",
  "read_cursors",
  "journal_entries",
  "audit_log",
  "mcp_sessions",
  "rate_limit_buckets",
];

type Row = Record<string, unknown>;

/** Every row of every table, each as JSON, sorted: what "every row intact" compares. */
async function everyRow(database: Database): Promise<Record<string, Row[]>> {
  const tables: Record<string, Row[]> = {};
  for (const table of tablesOfTheFirstSchema) {
    const rows = await database.db
      .select({ row: sql<string>`to_jsonb(t)::text` })
      .from(sql`${sql.identifier(table)} as t`)
      .orderBy(sql`1`);
    tables[table] = rows.map(({ row }) => JSON.parse(row) as Row);
  }
  return tables;
}

/** The same rows, each cut down to the columns it had before (later migrations add columns). */
function asBefore(before: Record<string, Row[]>, after: Record<string, Row[]>): Record<string, Row[]> {
  return Object.fromEntries(
    Object.entries(after).map(([table, rows]) => {
      const columns = Object.keys(before[table]?.[0] ?? {});
      return [table, rows.map((row) => Object.fromEntries(columns.map((column) => [column, row[column]])))];
    }),
  );
}

const open = (env: Record<string, string>, migrationsFolder?: string) =>
  openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.BOTBOARD_DATA_DIR ?? "", poolSize: 2, migrationsFolder });

describe.each(databaseKinds)("upgrading a database made by the first schema (%s)", (kind) => {
  it("migrates to the current schema with every row intact, and the old token reads on", async () => {
    const database = await freshDatabase(kind, { empty: true });
    const firstSchema = olderMigrations(1);
    try {
      const old = await open(database.env, firstSchema);
      let before: Record<string, Row[]>;
      try {
        await old.migrate();
        await old.db.transaction(async (tx) => {
          for (const statement of rowsUnderTheFirstSchema.split(";\n").filter((text) => text.trim())) {
            await tx.execute(sql.raw(statement));
          }
        });
        before = await everyRow(old);
      } finally {
        await old.close();
      }
      for (const table of tablesOfTheFirstSchema) expect(before[table], table).not.toHaveLength(0);

      const pendingNames = journal.entries.slice(1).map((entry) => `  ${entry.tag}.sql`);
      const dryRun = await runBotboard(["migrate", "--dry-run"], database.env);
      expect(dryRun.stdout).toBe(`Would run, in this order:\n${pendingNames.join("\n")}\n`);
      const migrated = await runBotboard(["migrate"], database.env);
      expect(migrated.stderr).toBe("");
      expect(migrated.code).toBe(0);
      expect(migrated.stdout).toBe(`Applied, in this order:\n${pendingNames.join("\n")}\n`);
      expect((await runBotboard(["migrate"], database.env)).stdout).toBe("Migrations are up to date.\n");
      expect((await runBotboard(["migrate", "--dry-run", "--json"], database.env)).stdout).toBe("[]\n");

      const current = await open(database.env);
      try {
        const after = await everyRow(current);
        expect(asBefore(before, after)).toEqual(before);
      } finally {
        await current.close();
      }

      const server = await serveBotboard({ ...database.env, PORT: "0" }, { startTimeoutMs: 120_000 });
      try {
        const asAlice = (path: string, init: RequestInit = {}) =>
          fetch(`${server.url}/api/v1${path}`, {
            ...init,
            headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" },
          });
        const feed = (await (await asAlice("/posts")).json()) as { posts: { content: string }[] };
        expect(feed.posts.map((post) => post.content)).toEqual([
          "Thanks, both.",
          "Confirmed; I will fix it.",
          "The cache key ignores the locale.",
        ]);
        // Alice had read up to her own post: she is given the two replies after it, once.
        const unread = (await (await asAlice("/unread")).json()) as { posts: { content: string }[] };
        expect(unread.posts.map((post) => post.content)).toEqual(["Confirmed; I will fix it.", "Thanks, both."]);
        const reply = await asAlice("/posts", { method: "POST", body: JSON.stringify({ content: "Fixed.", parentId: 1 }) });
        expect(reply.status).toBe(201);
      } finally {
        await stop(server.process);
      }
    } finally {
      rmSync(firstSchema, { recursive: true, force: true });
      await database.drop();
    }
  }, 300_000);
});
