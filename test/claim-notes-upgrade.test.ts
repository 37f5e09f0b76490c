import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { freshDatabase } from "./support/server.ts";

const migrationsFolder = join(import.meta.dirname, "..", "migrations");
const migrationFiles = readdirSync(migrationsFolder)
  .filter((name) => name.endsWith(".sql"))
  .sort();
const upgrade = migrationFiles.find((name) => name.endsWith("_system_posts_and_claim_ends.sql"))!;

describe("upgrading a database that holds claims from before system posts", () => {
  it("turns the old claim posts into Botboard's notes naming the actor, leaves agents' own words alone, and marks ended claims told", async () => {
    const database = await freshDatabase("postgres", { empty: true });
    const sql = postgres(database.env.DATABASE_URL!, { max: 1, onnotice: () => undefined });
    const run = (file: string) => sql.unsafe(readFileSync(join(migrationsFolder, file), "utf8").replaceAll("--> statement-breakpoint", ""));
    try {
      for (const file of migrationFiles.filter((name) => name < upgrade)) await run(file);
      const [team] = await sql`insert into teams (slug, name) values ('t', 'T') returning id`;
      const [agent] = await sql`insert into agents (team_id, name) values (${team!.id}, 'alice') returning id`;
      const [token] = await sql`insert into agent_tokens (agent_id, team_id, hash, prefix, scopes)
        values (${agent!.id}, ${team!.id}, ${"a".repeat(64)}, 'bb_aaaa', '{read,write}') returning id`;
      const post = async (authorKind: string, authorName: string, content: string, rootId: number | null = null) => {
        const [row] = await sql`insert into posts (team_id, author_kind, agent_id, token_id, author_name, content, tags, parent_id, root_id)
          values (${team!.id}, ${authorKind}, ${authorKind === "agent" ? agent!.id : null}, ${authorKind === "agent" ? token!.id : null},
            ${authorName}, ${content}, '{claim}', ${rootId}, ${rootId}) returning id`;
        return Number(row!.id);
      };
      const root = await post("agent", "alice", "claimed `src/**` for 30 min (claim 1, until 2026-12-01T10:00:00.000Z): login");
      const renewal = await post("agent", "alice", "renewed claim 1 until 2026-12-01T11:00:00.000Z", root);
      const ownWords = await post("agent", "alice", "released claim 1 on `src/**` soon, promise", null);
      const answer = await post("agent", "alice", "I will be done soon", root);
      const release = await post("human", "ann", "released alice's claim 1 on `src/**`", root);
      const [ended] = await sql`insert into claims (team_id, agent_id, token_id, holder_name, paths, reason, expires_at, thread_post_id)
        values (${team!.id}, ${agent!.id}, ${token!.id}, 'alice', '{src/**}', 'login', now() - interval '1 hour', ${root}) returning id`;
      const [live] = await sql`insert into claims (team_id, agent_id, token_id, holder_name, paths, reason, expires_at)
        values (${team!.id}, ${agent!.id}, ${token!.id}, 'alice', '{lib/**}', 'later', now() + interval '1 hour') returning id`;

      await run(upgrade);

      const posts = await sql`select id, author_kind, author_name, agent_id, token_id, content, search_terms from posts order by id`;
      const byId = new Map(posts.map((row) => [Number(row.id), row]));
      expect(byId.get(root)).toMatchObject({
        author_kind: "system",
        author_name: "Botboard",
        agent_id: null,
        token_id: null,
        search_terms: null,
        content: "alice claimed `src/**` for 30 min (claim 1, until 2026-12-01T10:00:00.000Z): login",
      });
      expect(byId.get(renewal)).toMatchObject({ author_kind: "system", content: "alice renewed claim 1 until 2026-12-01T11:00:00.000Z" });
      expect(byId.get(release)).toMatchObject({ author_kind: "system", content: "ann released alice's claim 1 on `src/**`" });
      // An agent's own words stay its own, in the claim's thread or out of it.
      expect(byId.get(answer)).toMatchObject({ author_kind: "agent", author_name: "alice", content: "I will be done soon" });
      expect(byId.get(ownWords)).toMatchObject({ author_kind: "agent", author_name: "alice" });
      const told = await sql`select id, end_told_at is not null as told from claims order by id`;
      expect(told.map((row) => [Number(row.id), row.told])).toEqual([
        [Number(ended!.id), true],
        [Number(live!.id), false],
      ]);
    } finally {
      await sql.end();
      await database.drop();
    }
  }, 60_000);
});
