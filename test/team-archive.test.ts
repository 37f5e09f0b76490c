import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { journalEntries } from "../server/db/schema/index.ts";
import { runBotboard } from "./support/cli.ts";
import { freshDatabase, startTestServer } from "./support/server.ts";

describe("export and import of a team", () => {
  it("a team moves from the embedded database to Postgres exactly: posts, threads, tokens, accounts", async () => {
    const source = await startTestServer("pglite");
    const target = await freshDatabase("postgres");
    try {
      const team = await source.team("movers");
      await source.team("stays-behind");
      const token = await source.agent(team, "mover");
      await source.engineer(team, "moving-engineer");
      const post = (body: unknown) => source.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
      const root = await (await post({ content: "The **deploy** script needs `--force` on arm64.", tags: ["deploy"] })).json();
      // A reader that has read the first post: its position moves with the team.
      const reader = await source.agent(team, "reader");
      expect((await (await source.as(reader, "/api/v1/unread")).json()).posts.map((p: { id: number }) => p.id)).toEqual([root.id]);
      const reply = await (await post({ content: "Confirmed on the second runner.", parentId: root.id })).json();
      await source.database.db.insert(journalEntries).values({
        teamId: team.id,
        agentId: (await source.as(token, "/api/v1/me").then((r) => r.json())).agent.id,
        authorName: "mover",
        sections: { project_notes: "arm64 runners are slow" },
      });
      const before = await (await source.as(token, "/api/v1/posts?limit=100")).json();
      const thread = await (await source.as(token, `/api/v1/posts/${root.id}`)).json();

      const exported = await runBotboard(["export", "--team", "movers"], { BOTBOARD_DATA_DIR: source.config.dataDir });
      expect(exported.code).toBe(0);
      const archive = join(tmpdir(), `botboard-archive-${Date.now()}.jsonl`);
      writeFileSync(archive, exported.stdout);
      expect(exported.stdout).not.toContain(token);
      expect(exported.stdout).not.toContain("stays-behind");
      // Transaction ids mean something only in the database that assigned them.
      expect(exported.stdout).not.toMatch(/txId|lastTxId/);

      const imported = await runBotboard(["import", archive], target.env);
      expect(imported.stderr).toBe("");
      expect(imported.stdout).toContain(
        "Imported team movers: 1 teams, 1 users, 2 agents, 2 agent_tokens, 2 posts, 1 journal_entries, 1 read_cursors",
      );

      const moved = await startTestServer("postgres", target.env);
      try {
        const after = await (await moved.as(token, "/api/v1/posts?limit=100")).json();
        expect(after).toEqual(before);
        await moved.settled();
        expect((await (await moved.as(reader, "/api/v1/unread")).json()).posts.map((p: { id: number }) => p.id)).toEqual([reply.id]);
        expect(await (await moved.as(token, `/api/v1/posts/${root.id}`)).json()).toEqual(thread);
        const found = await (await moved.as(token, "/api/v1/search?q=deploy")).json();
        expect(found.results.map((hit: { post: { id: number } }) => hit.post.id)).toEqual([root.id]);
        const next = await (
          await moved.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "after the move" }) })
        ).json();
        expect(next.id).toBeGreaterThan(root.id + 1);
        await moved.settled();
        expect((await (await moved.as(reader, "/api/v1/unread")).json()).posts.map((p: { id: number }) => p.id)).toEqual([next.id]);
        const login = await fetch(`${moved.url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "moving-engineer", password: "correct horse battery" }),
        });
        expect(login.status).toBe(200);

        const again = await runBotboard(["import", archive], target.env);
        expect(again.code).toBe(1);
        expect(again.stderr).toContain("already in the database");
      } finally {
        await moved.close();
      }
    } finally {
      await source.close();
      await target.drop().catch(() => undefined);
    }
  }, 90_000);

  it("an archive that carries transaction ids is refused: delivery order is local to a database", async () => {
    const target = await freshDatabase("pglite");
    try {
      const archive = join(tmpdir(), `botboard-txid-${Date.now()}.jsonl`);
      const teamId = "00000000-0000-4000-8000-000000000001";
      writeFileSync(
        archive,
        [
          '{"format":"botboard-team-archive/1","team":"crafted"}',
          JSON.stringify({ table: "teams", row: { id: teamId, slug: "crafted", name: "Crafted", createdAt: "2026-11-01T00:00:00.000Z" } }),
          JSON.stringify({
            table: "posts",
            row: { id: 1, teamId, authorKind: "human", authorName: "x", content: "far ahead", tags: [], txId: "99999999999" },
          }),
        ].join("\n"),
      );
      const result = await runBotboard(["import", archive], target.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("unknown column 'txId'");
      expect((await runBotboard(["team", "list"], target.env)).stdout).toContain("No teams");
    } finally {
      await target.drop();
    }
  });

  it("a damaged archive is refused and writes nothing", async () => {
    const target = await freshDatabase("pglite");
    try {
      const archive = join(tmpdir(), `botboard-bad-${Date.now()}.jsonl`);
      writeFileSync(archive, '{"format":"botboard-team-archive/1"}\n{"table":"teams","row":{"id":"x"}}\nnot json\n');
      const result = await runBotboard(["import", archive], target.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("Line 3 of the archive is not JSON");
      expect((await runBotboard(["team", "list"], target.env)).stdout).toContain("No teams");
    } finally {
      await target.drop();
    }
  });
});
