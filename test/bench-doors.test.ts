import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oracleDriver } from "../bench/drivers/calibration.ts";
import { executeRun } from "../bench/runner.ts";
import { loadSuite } from "../bench/suites.ts";
import { claimToolNames, feedToolNames, journalToolNames } from "../mcp/server.ts";
import { listBenchTrials } from "../server/domain/bench-runs.ts";
import { defaultPostLimits } from "../server/domain/limits.ts";
import type { Team } from "../server/domain/teams.ts";
import { planTestRun } from "./support/bench.ts";
import { runBotboard } from "./support/cli.ts";
import type { FreshDatabase } from "../server/db/fresh-database.ts";
import { databaseKinds, freshDatabase, startTestServer, type TestServer } from "./support/server.ts";

/** The benchmark's doors: the /bench pages, the MCP tool sets per variant, the warm phase's board copy, the CLI. */

const twoTasks = loadSuite("builtin", ["run-length", "word-wrap"]);
const longerThanDefault = defaultPostLimits.maxPostChars + 1000;

describe.each(databaseKinds)("bench pages, tool sets and warm boards on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  let cookie: string;
  let runId: string;
  beforeAll(async () => {
    // Posts may be longer than the default limit here: the warm phase's copy must hold them to this server's.
    server = await startTestServer(kind, { BOTBOARD_MAX_POST_CHARS: String(longerThanDefault + 1000) });
    team = await server.team("engineers");
    cookie = await server.engineer(team, "ada", "member");
    const db = server.database.db;
    const planned = await planTestRun(db, {
      driver: "oracle",
      suite: twoTasks,
      variants: ["baseline", "combined"],
      phase: "accumulate",
      runId: `web-${kind}`,
      teamId: team.id,
    });
    await executeRun(db, planned.run, {
      driver: oracleDriver,
      serverUrl: server.url,
      concurrency: 2,
      signal: new AbortController().signal,
    });
    runId = planned.run.id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it("/bench lists runs and /bench/:runId shows the report to a signed-in engineer", async () => {
    const list = await fetch(`${server.url}/bench`, { headers: { cookie } });
    expect(list.status).toBe(200);
    const listHtml = await list.text();
    expect(listHtml).toContain(`href="/bench/${runId}"`);
    expect(listHtml).toMatch(/<td>4\/4<\/td>/);

    const page = await fetch(`${server.url}/bench/${runId}`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`Benchmark ${runId}`);
    expect(html).toContain("2/2 = 100%");
    expect(html).toContain("<svg");
    expect(html).toContain("Use it as you see fit.");
    // The page carries the same accounting as the markdown and HTML reports.
    for (const column of ["timeouts", "errors", "interrupted (attempts, spend)", "cut off (variant / baseline)"])
      expect(html).toContain(`<th scope="col">${column}</th>`);
    expect(html).toContain("What each variant saw");
    expect(html).toContain("A turn is one model request");

    expect((await fetch(`${server.url}/bench/no-such-run`, { headers: { cookie } })).status).toBe(404);
    const anonymous = await fetch(`${server.url}/bench`, { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Fbench");
  });

  it("/mcp?tools= offers only the variant's tools and refuses the others", async () => {
    const token = await server.agent(team, "tool-sets");
    const connect = async (query: string) => {
      const client = new Client({ name: "bench-test", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${server.url}/mcp${query}`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      return client;
    };
    const journal = await connect("?tools=journal");
    expect((await journal.listTools()).tools.map((tool) => tool.name).sort()).toEqual([...journalToolNames].sort());
    await expect(journal.callTool({ name: "create_post", arguments: { content: "x" } })).rejects.toThrow(/Unknown tool/);
    const social = await connect("?tools=social");
    expect((await social.listTools()).tools.map((tool) => tool.name).sort()).toEqual([...feedToolNames].sort());
    // The study's social tools only: claims and statuses are no part of a variant, not even in login's text.
    const login = await social.callTool({ name: "login", arguments: {} });
    expect(JSON.stringify(login.content)).not.toMatch(/claim|status/i);
    const both = await connect("?tools=social,journal");
    expect((await both.listTools()).tools).toHaveLength(feedToolNames.length + journalToolNames.length);
    const claims = await connect("?tools=claims");
    expect((await claims.listTools()).tools.map((tool) => tool.name).sort()).toEqual([...claimToolNames].sort());
    await Promise.all([journal.close(), social.close(), both.close(), claims.close()]);

    const bad = await server.as(token, "/mcp?tools=everything", {
      method: "POST",
      body: "{}",
      headers: { accept: "application/json, text/event-stream" },
    });
    expect(bad.status).toBe(400);
  });

  it("the warm phase starts each group on a copy of the earlier run's board", async () => {
    const db = server.database.db;
    const [source] = (await listBenchTrials(db, runId)).filter((trial) => trial.variant === "combined");
    const writer = await server.agent({ id: source!.teamId! } as Team, "agent-combined-r1");
    const posted = await server.as(writer, "/api/v1/posts", {
      method: "POST",
      body: JSON.stringify({ content: "Quill checksums are over the escaped text." }),
    });
    expect(posted.status).toBe(201);

    const warm = await planTestRun(db, {
      driver: "oracle",
      suite: twoTasks,
      variants: ["combined"],
      phase: "warm",
      fromRunId: runId,
      teamId: team.id,
    });
    const [warmTrial] = await listBenchTrials(db, warm.run.id);
    expect(warmTrial!.teamId).not.toBe(source!.teamId);
    const reader = await server.agent({ id: warmTrial!.teamId! } as Team, "agent-combined-r1");
    const feed = await (await server.as(reader, "/api/v1/posts")).json();
    expect(feed.posts.map((post: { content: string; author: { name: string } }) => [post.content, post.author.name])).toEqual([
      ["Quill checksums are over the escaped text.", "agent-combined-r1"],
    ]);
    // The original board is untouched, and a warm run needs --from.
    const original = await (await server.as(writer, "/api/v1/posts")).json();
    expect(original.posts).toHaveLength(1);
    await expect(planTestRun(db, { driver: "oracle", suite: twoTasks, phase: "warm" })).rejects.toThrow(/--from/);
  });

  it("the warm phase copies a board under the server's configured post limit, not the default one", async () => {
    const db = server.database.db;
    const [source] = (await listBenchTrials(db, runId)).filter((trial) => trial.variant === "combined");
    const writer = await server.agent({ id: source!.teamId! } as Team, "long-writer");
    const long = `A long finding. ${"x".repeat(longerThanDefault)}`;
    const posted = await server.as(writer, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: long }) });
    expect(posted.status).toBe(201);

    const warm = await planTestRun(db, {
      driver: "oracle",
      suite: twoTasks,
      variants: ["combined"],
      phase: "warm",
      fromRunId: runId,
      teamId: team.id,
      postLimits: server.config.limits,
    });
    const [warmTrial] = await listBenchTrials(db, warm.run.id);
    const reader = await server.agent({ id: warmTrial!.teamId! } as Team, "long-reader");
    const feed = await (await server.as(reader, "/api/v1/posts?limit=1")).json();
    expect(feed.posts[0].content).toBe(long);
  });
});

describe("botboard bench on the command line", () => {
  let dataDir: string;
  let database: FreshDatabase;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "botboard-bench-cli-"));
    // A migrated copy: what a first start makes is not what this is about, and making it costs seconds.
    database = await freshDatabase("pglite");
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  });
  const env = () => ({ ...database.env, LOG_LEVEL: "warn", OPENAI_API_KEY: "" });

  it("runs, lists and reports a benchmark; a missing key stops before any trial", async () => {
    const help = await runBotboard(["bench", "--help"], env());
    for (const command of ["run", "worker", "report", "list", "show", "assign"]) expect(help.stdout).toContain(command);

    const noKey = await runBotboard(["bench", "run", "--driver", "openai", "--model", "m"], env());
    expect(noKey.code).toBe(78);
    expect(noKey.stderr).toContain("OPENAI_API_KEY");

    const out = join(dataDir, "run");
    const run = await runBotboard(
      [
        "bench",
        "run",
        "--driver",
        "oracle",
        "--tasks",
        "run-length,word-wrap",
        "--variants",
        "baseline,journal",
        "--repeats",
        "1",
        "--run-id",
        "cli-run",
        "--out",
        out,
      ],
      env(),
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    // One team (the one the server made at first start): the run is its own without --team.
    expect(run.stdout).toContain("Run cli-run for team team:");
    expect(run.stdout).toContain("cli-run: 4/4 trials finished (4 here). baseline 2/2 passed, $0.0000; journal 2/2 passed, $0.0000.");
    expect(readFileSync(join(out, "trials.jsonl"), "utf8").trim().split("\n")).toHaveLength(4);
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain("# Benchmark run cli-run");

    // The journal trials' boards are teams too, but not ones a run is shown to: still no --team needed.
    const again = await runBotboard(
      [
        "bench",
        "run",
        "--driver",
        "oracle",
        "--tasks",
        "run-length",
        "--variants",
        "baseline",
        "--repeats",
        "1",
        "--run-id",
        "cli-again",
        "--out",
        join(dataDir, "again"),
      ],
      env(),
    );
    expect(again.stdout).toContain("Run cli-again for team team:");

    const list = await runBotboard(["bench", "list"], env());
    expect(list.stdout).toMatch(/^cli-run\tfinished\toracle\tisolated\t4\/4 trials, 4 passed\t\$0\.0000\tteam team$/m);

    const json = JSON.parse((await runBotboard(["bench", "report", "cli-run", "--format", "json"], env())).stdout);
    expect(json.variants.map((variant: { variant: string; passed: number }) => [variant.variant, variant.passed])).toEqual([
      ["baseline", 2],
      ["journal", 2],
    ]);
    const fromDir = await runBotboard(["bench", "report", out, "--format", "html"], env());
    expect(fromDir.stdout).toMatch(/^<!doctype html>/);
    expect(fromDir.stdout).toContain("Benchmark run cli-run");
  }, 180_000);
});
