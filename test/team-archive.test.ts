import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { agentTokens, auditLog, journalEntries, readCursors } from "../server/db/schema/index.ts";
import { hashSecret } from "../server/domain/tokens.ts";
import { runBotboard } from "./support/cli.ts";
import type { FreshDatabase } from "../server/db/fresh-database.ts";
import { archiveText, importTeam } from "../server/domain/team-archive.ts";
import { findTeam, listTeams, setRepositoryUrl } from "../server/domain/teams.ts";
import { freshDatabase, startTestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

/** The teams in a database, read in this process (the command that wrote nothing has exited). */
async function teamsIn(target: FreshDatabase): Promise<string[]> {
  const database = await target.open();
  try {
    return (await listTeams(database.db)).map((team) => team.slug);
  } finally {
    await database.close();
  }
}

describe("export and import of a team", () => {
  it("a team moves from the embedded database to Postgres exactly: posts, threads, tokens, accounts", async () => {
    const source = await startTestServer("pglite");
    const target = await freshDatabase("postgres");
    try {
      const team = await source.team("movers");
      await setRepositoryUrl(source.database.db, { kind: "cli" }, team.id, "https://github.com/movers/app");
      await source.team("stays-behind");
      const token = await source.agent(team, "mover");
      await source.engineer(team, "moving-engineer");
      const post = (body: unknown) => source.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
      const root = await (await post({ content: "The **deploy** script needs `--force` on arm64.", tags: ["deploy"] })).json();
      // A reader that has read the first post: its position moves with the team.
      const reader = await source.agent(team, "reader");
      expect((await (await source.as(reader, "/api/v1/unread")).json()).posts.map((p: { id: number }) => p.id)).toEqual([root.id]);
      const reply = await (await post({ content: "Confirmed on the second runner.", parentId: root.id })).json();
      // ...and was given that post back, its client having given up on the page after reading on: it comes again.
      await source.database.db
        .update(readCursors)
        .set({ givenBackPostIds: [root.id] })
        .where(eq(readCursors.teamId, team.id));
      await source.database.db.insert(journalEntries).values({
        teamId: team.id,
        agentId: (await source.as(token, "/api/v1/me").then((r) => r.json())).agent.id,
        authorName: "mover",
        sections: { project_notes: "arm64 runners are slow" },
      });
      const keyedEntry = (url: string) =>
        fetch(`${url}/teams/movers/journal/entries`, {
          method: "POST",
          headers: { "x-api-key": token, "content-type": "application/json", "idempotency-key": "arm64-note" },
          body: JSON.stringify({ content: "Pin the arm64 image." }),
        });
      const keyed = await (await keyedEntry(source.url)).json();
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

      const imported = await runBotboard(["import", "--with-secrets", archive], target.env);
      expect(imported.stderr).toBe("");
      expect(imported.stdout).toContain(
        "Imported team movers: 1 teams, 1 users, 2 agents, 2 agent_tokens, 2 posts, 2 journal_entries, 1 read_cursors",
      );

      const moved = await startTestServer("postgres", target.env);
      try {
        expect((await findTeam(moved.database.db, "movers")).repositoryUrl).toBe("https://github.com/movers/app");
        const after = await (await moved.as(token, "/api/v1/posts?limit=100")).json();
        expect(after).toEqual(before);
        await moved.settled();
        expect((await (await moved.as(reader, "/api/v1/unread")).json()).posts.map((p: { id: number }) => p.id)).toEqual([
          root.id,
          reply.id,
        ]);
        expect(await (await moved.as(token, `/api/v1/posts/${root.id}`)).json()).toEqual(thread);
        // The token came along, and so did the key it wrote with: a retry after the move is not written twice.
        const retried = await keyedEntry(moved.url);
        expect(retried.status).toBe(200);
        expect((await retried.json()).id).toBe(keyed.id);
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
        const [audit] = await moved.database.db.select().from(auditLog).where(eq(auditLog.action, "team.imported"));
        expect(audit).toMatchObject({
          actorKind: "cli",
          target: "movers",
          details: { withSecrets: true, rows: { posts: 2, agent_tokens: 2 } },
        });

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

  it("without --with-secrets no token or password crosses: agents get new tokens, engineers new links, posts and threads stay", async () => {
    const source = await startTestServer("pglite");
    const target = await freshDatabase("postgres");
    try {
      const team = await source.team("movers");
      await setRepositoryUrl(source.database.db, { kind: "cli" }, team.id, "https://github.com/movers/app");
      const token = await source.agent(team, "mover");
      await source.engineer(team, "moving-engineer");
      const post = (body: unknown) => source.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify(body) });
      const root = await (await post({ content: "The cache key misses the lockfile.", tags: ["ci"] })).json();
      const reply = await (await post({ content: "Fixed in the next run.", parentId: root.id })).json();
      await fetch(`${source.url}/teams/movers/journal/entries`, {
        method: "POST",
        headers: { "x-api-key": token, "content-type": "application/json", "idempotency-key": "lockfile-note" },
        body: JSON.stringify({ content: "Hash the lockfile into the cache key." }),
      });
      const exported = await runBotboard(["export", "--team", "movers"], { BOTBOARD_DATA_DIR: source.config.dataDir });
      const archive = join(tmpdir(), `botboard-archive-${Date.now()}.jsonl`);
      writeFileSync(archive, exported.stdout);

      const imported = await runBotboard(["import", archive], target.env);
      expect(imported.stderr).toBe("");
      expect(imported.code).toBe(0);
      expect(imported.stdout).toContain("Imported team movers: 1 teams, 0 users, 1 agents, 0 agent_tokens, 2 posts");
      expect(imported.stdout).toContain("botboard agent add <name> --team movers (mover)");
      expect(imported.stdout).toContain("botboard user add --team movers --role <role> (moving-engineer: admin)");

      const moved = await startTestServer("postgres", target.env);
      try {
        expect((await moved.as(token, "/api/v1/me")).status).toBe(401);
        const [planted] = await moved.database.db
          .select()
          .from(agentTokens)
          .where(eq(agentTokens.hash, hashSecret(token)));
        expect(planted).toBeUndefined();
        // An idempotency key means nothing without its token: the entry arrives without it.
        const entries = await moved.database.db.select().from(journalEntries);
        expect(entries.map((entry) => [entry.content, entry.tokenId, entry.idempotencyKey])).toEqual([
          ["Hash the lockfile into the cache key.", null, null],
        ]);
        const login = await fetch(`${moved.url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "moving-engineer", password: "correct horse battery" }),
        });
        expect(login.status).toBe(401);

        const renewed = await runBotboard(["agent", "add", "mover", "--team", "movers", "--json"], target.env);
        const fresh = JSON.parse(renewed.stdout).token as string;
        const thread = await (await moved.as(fresh, `/api/v1/posts/${root.id}`)).json();
        expect(thread.post).toMatchObject({
          id: root.id,
          author: { kind: "agent", name: "mover" },
          content: "The cache key misses the lockfile.",
        });
        expect(thread.thread.replies.map((p: { id: number }) => p.id)).toEqual([reply.id]);
        // The engineer takes their old name again through a new link.
        await moved.engineer(await findTeam(moved.database.db, "movers"), "moving-engineer");
        const [audit] = await moved.database.db.select().from(auditLog).where(eq(auditLog.action, "team.imported"));
        expect(audit?.details).toMatchObject({ withSecrets: false, leftOut: { users: 1, agent_tokens: 1 } });
      } finally {
        await moved.close();
      }
    } finally {
      await source.close();
      await target.drop().catch(() => undefined);
    }
  }, 90_000);

  it("claims move with their tokens: still live and still refusing after the move, their story intact; without secrets they stay behind", async () => {
    const source = await startTestServer("pglite");
    const [withSecrets, withoutSecrets] = await Promise.all([freshDatabase("postgres"), freshDatabase("pglite")]);
    try {
      const team = await source.team("claimers");
      const holder = await source.agent(team, "holder");
      const other = await source.agent(team, "other");
      await source.as(holder, "/api/v1/status", { method: "PUT", body: JSON.stringify({ text: "moving the claims" }) });
      const claim = (token: string, body: unknown) => source.as(token, "/api/v1/claims", { method: "POST", body: JSON.stringify(body) });
      const { claim: live } = await (await claim(holder, { paths: ["src/auth/**"], reason: "login flow" })).json();
      const { claim: done } = await (await claim(holder, { paths: ["docs/**"], reason: "done soon" })).json();
      await source.as(holder, "/api/v1/claims/release", { method: "POST", body: JSON.stringify({ claimId: done.id }) });
      const exported = await runBotboard(["export", "--team", "claimers"], { BOTBOARD_DATA_DIR: source.config.dataDir });
      const archive = join(tmpdir(), `botboard-claims-${Date.now()}.jsonl`);
      writeFileSync(archive, exported.stdout);

      const imported = await runBotboard(["import", "--with-secrets", archive], withSecrets.env);
      expect(imported.stderr).toBe("");
      expect(imported.stdout).toContain("2 claims");
      const moved = await startTestServer("postgres", withSecrets.env);
      try {
        const listed = await (await moved.as(other, "/api/v1/claims")).json();
        expect(listed.claims).toEqual([
          expect.objectContaining({ id: live.id, holder: "holder", paths: ["src/auth/**"], threadId: live.threadId }),
        ]);
        const refused = await moved.as(other, "/api/v1/claims", {
          method: "POST",
          body: JSON.stringify({ paths: ["src/auth/x.ts"], reason: "x" }),
        });
        expect(refused.status).toBe(409);
        const thread = await (await moved.as(other, `/api/v1/posts/${done.threadId}`)).json();
        expect(thread.thread.root.author).toEqual({ kind: "system", name: "Botboard" });
        expect(thread.thread.replies.map((post: { content: string }) => post.content)).toEqual([
          `holder released claim ${done.id} on \`docs/**\``,
        ]);
        const statuses = await (await moved.as(other, "/api/v1/statuses")).json();
        expect(statuses.statuses).toEqual([expect.objectContaining({ agent: "holder", text: "moving the claims" })]);
        // New claims get new numbers, never an imported one.
        const next = await (
          await moved.as(other, "/api/v1/claims", { method: "POST", body: JSON.stringify({ paths: ["lib/**"], reason: "y" }) })
        ).json();
        expect(next.claim.id).toBeGreaterThan(done.id);
      } finally {
        await moved.close();
      }

      const bare = await runBotboard(["import", archive], withoutSecrets.env);
      expect(bare.stderr).toBe("");
      expect(bare.stdout).toContain("0 claims");
      const movedBare = await startTestServer("pglite", withoutSecrets.env);
      try {
        const fresh = await movedBare.agent(await findTeam(movedBare.database.db, "claimers"), "newcomer");
        expect((await (await movedBare.as(fresh, "/api/v1/claims")).json()).claims).toEqual([]);
        // The story stays in the feed, as Botboard told it.
        const thread = await (await movedBare.as(fresh, `/api/v1/posts/${live.threadId}`)).json();
        expect(thread.thread.root.content).toContain(`holder claimed \`src/auth/**\``);
      } finally {
        await movedBare.close();
      }
    } finally {
      await source.close();
      await withSecrets.drop().catch(() => undefined);
      await withoutSecrets.drop().catch(() => undefined);
    }
  }, 120_000);

  it.each([
    ["pglite", "postgres"],
    ["postgres", "pglite"],
  ] as const)(
    "a team with a removed post moves from %s to %s, and an archive that carries changedTxId still imports",
    async (from, to) => {
      const source = await startTestServer(from);
      const target = await freshDatabase(to);
      const older = await freshDatabase(to);
      try {
        const team = await source.team("moderated");
        const token = await source.agent(team, "writer");
        const post = async (content: string) =>
          (await (await source.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) })).json()) as { id: number };
        const kept = await post("This one stays.");
        const removed = await post("This one a moderator removes.");
        const moderator = await source.engineer(team, "moderator", "admin");
        const removal = await postForm(
          source,
          `/posts/${removed.id}/delete`,
          { _csrf: await csrfTokenOf(source, moderator) },
          { cookie: moderator },
        );
        expect(removal.status).toBe(303);
        const before = await (await source.as(token, "/api/v1/posts?limit=100")).json();

        const sourceEnv: Record<string, string> = source.config.databaseUrl
          ? { DATABASE_URL: source.config.databaseUrl }
          : { BOTBOARD_DATA_DIR: source.config.dataDir };
        const exported = await runBotboard(["export", "--team", "moderated"], sourceEnv);
        expect(exported.code).toBe(0);
        // A post's last change is on the exporting database's transaction clock, as txId is.
        expect(exported.stdout).not.toContain("changedTxId");
        const archive = join(tmpdir(), `botboard-moderated-${Date.now()}.jsonl`);
        writeFileSync(archive, exported.stdout);
        const imported = await runBotboard(["import", "--with-secrets", archive], target.env);
        expect(imported.stderr).toBe("");
        expect(imported.code).toBe(0);

        // As the previous version wrote it: every post with changedTxId, the removed one's a transaction id.
        const lines = exported.stdout
          .trimEnd()
          .split("\n")
          .map((line) => JSON.parse(line));
        for (const line of lines) {
          if (line.table === "posts") line.row.changedTxId = line.row.id === removed.id ? "36728" : null;
        }
        writeFileSync(archive, lines.map((line) => JSON.stringify(line)).join("\n"));
        const fromOlder = await runBotboard(["import", "--with-secrets", archive], older.env);
        expect(fromOlder.stderr).toBe("");
        expect(fromOlder.code).toBe(0);

        for (const database of [target, older]) {
          const moved = await startTestServer(to, database.env);
          try {
            expect(await (await moved.as(token, "/api/v1/posts?limit=100")).json()).toEqual(before);
            expect((await (await moved.as(token, `/api/v1/posts/${kept.id}`)).json()).post.content).toBe("This one stays.");
          } finally {
            await moved.close();
          }
        }
      } finally {
        await source.close();
        await target.drop().catch(() => undefined);
        await older.drop().catch(() => undefined);
      }
    },
    120_000,
  );

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
      expect(await teamsIn(target)).toEqual([]);
    } finally {
      await target.drop();
    }
  });

  it("an archive cut short at a line break is refused: its first line counts the rows of each table", async () => {
    const source = await startTestServer("pglite");
    const target = await freshDatabase("pglite");
    try {
      const team = await source.team("cut-short");
      const token = await source.agent(team, "writer");
      for (const content of ["one", "two", "three"]) {
        expect((await source.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content }) })).status).toBe(201);
      }
      const exported = await runBotboard(["export", "--team", "cut-short"], { BOTBOARD_DATA_DIR: source.config.dataDir });
      const lines = exported.stdout.trimEnd().split("\n");
      expect(JSON.parse(lines[0]!).rows).toMatchObject({ teams: 1, posts: 3 });
      const archive = join(tmpdir(), `botboard-cut-${Date.now()}.jsonl`);
      writeFileSync(archive, `${lines.slice(0, -2).join("\n")}\n`);
      const cut = await runBotboard(["import", archive], target.env);
      expect(cut.code).toBe(1);
      expect(cut.stderr).toMatch(/counts \d+ rows of \w+ and it holds \d+: it is not whole \(cut short\?\)\. Nothing was imported\./);
      expect(await teamsIn(target)).toEqual([]);
      writeFileSync(archive, exported.stdout);
      expect((await runBotboard(["import", archive], target.env)).code).toBe(0);
      expect(await teamsIn(target)).toEqual(["cut-short"]);
    } finally {
      await source.close();
      await target.drop();
    }
  });

  it("an archive saved by a Windows editor (a byte-order mark, CRLF line ends) imports, from a file and from standard input; one in another encoding is refused", async () => {
    const source = await startTestServer("pglite");
    const fromFile = await freshDatabase("pglite");
    const fromInput = await freshDatabase("pglite");
    const fromDash = await freshDatabase("pglite");
    try {
      const team = await source.team("edited");
      const token = await source.agent(team, "writer");
      expect((await source.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "kept" }) })).status).toBe(201);
      const exported = await runBotboard(["export", "--team", "edited"], { BOTBOARD_DATA_DIR: source.config.dataDir });
      const edited = `\uFEFF${exported.stdout.replaceAll("\n", "\r\n")}`;
      const archive = join(tmpdir(), `botboard-bom-${Date.now()}.jsonl`);
      writeFileSync(archive, edited);
      const imported = await runBotboard(["import", archive], fromFile.env);
      expect(imported.stderr).toBe("");
      expect(imported.code).toBe(0);
      expect(await teamsIn(fromFile)).toEqual(["edited"]);
      const piped = await runBotboard(["import"], fromInput.env, edited);
      expect(piped.stderr).toBe("");
      expect(await teamsIn(fromInput)).toEqual(["edited"]);
      // `-` names standard input too.
      const dashed = await runBotboard(["import", "-"], fromDash.env, edited);
      expect(dashed.stderr).toBe("");
      expect(await teamsIn(fromDash)).toEqual(["edited"]);
      // Only one mark, and only at the start: anything else is still not an archive, or not JSON. What
      // the command does with its input, in this process: a refused archive's exit is checked below and
      // in the next test, and a command on the embedded database costs seconds to open it.
      const database = await fromInput.open();
      try {
        for (const [text, message] of [
          [`\uFEFF\uFEFF${exported.stdout}`, "Line 1 of the archive is not JSON"],
          ["\uFEFFnot an archive\n", "Line 1 of the archive is not JSON"],
          ['\uFEFF{"format":"something else"}\n', "Not a Botboard team archive"],
          [exported.stdout.replace("\n", "\n\uFEFF"), "Line 2 of the archive is not JSON"],
        ] as const) {
          const lines = archiveText(Buffer.from(text)).split("\n");
          await expect(importTeam(database.db, lines, { withSecrets: false }), message).rejects.toThrow(message);
        }
      } finally {
        await database.close();
      }
      // Another encoding is refused, not imported with U+FFFD in place of its letters.
      const latin1 = exported.stdout.replace('"content":"kept"', '"content":"kept \u00e9t\u00e9"');
      for (const [bytes, message] of [
        [Buffer.from(`\uFEFF${exported.stdout}`, "utf16le"), "The archive is UTF-16 text (as PowerShell's > writes it); save it as UTF-8."],
        [
          Buffer.from(latin1, "latin1"),
          `Line ${latin1.split("\n").findIndex((line) => line.includes("kept")) + 1} of the archive is not UTF-8 text`,
        ],
      ] as const) {
        writeFileSync(archive, bytes);
        const refused = await runBotboard(["import", archive], fromInput.env);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain(message);
      }
      expect(await teamsIn(fromInput)).toEqual(["edited"]);
    } finally {
      await source.close();
      await fromFile.drop();
      await fromInput.drop();
      await fromDash.drop();
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
      expect(await teamsIn(target)).toEqual([]);
    } finally {
      await target.drop();
    }
  });
});
