import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSuite } from "../bench/suites.ts";
import type { Team } from "../server/domain/teams.ts";
import { planTestRun } from "./support/bench.ts";
import { runBotboard } from "./support/cli.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/** Benchmark runs belong to a team: its engineers see them, other teams' engineers see nothing of them, the operator's CLI sees all. */

const oneTask = loadSuite("builtin", ["run-length"]);

/** What an engineer's browser gets for a page: status and HTML. */
async function page(server: TestServer, cookie: string, path: string) {
  const response = await fetch(`${server.url}${path}`, { headers: { cookie }, redirect: "manual" });
  return { status: response.status, html: await response.text() };
}

/** Whether the audit log on an /admin page has an entry of this action on this target. */
const audited = (adminHtml: string, action: string, target: string) => adminHtml.includes(`<td>${action}</td><td>${target}</td>`);

describe.each(databaseKinds)("bench runs on the web belong to a team on %s", (kind) => {
  let server: TestServer;
  let first: Team;
  let firstCookie: string;
  let secondCookie: string;
  const firstRun = `first-run-${kind}`;
  const operatorRun = `operator-run-${kind}`;
  beforeAll(async () => {
    server = await startTestServer(kind);
    first = await server.team("first");
    firstCookie = await server.engineer(first, "ada-first", "member");
    const { db } = server.database;
    await planTestRun(db, { driver: "oracle", suite: oneTask, runId: firstRun, model: "first-private-model", teamId: first.id });
    await planTestRun(db, { driver: "oracle", suite: oneTask, runId: operatorRun, model: "operator-private-model", teamId: null });
    // A brand-new second team, made after the first team's run.
    secondCookie = await server.engineer(await server.team("second"), "bob-second", "admin");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("a brand-new second team's engineer sees none of the first team's runs: not on /bench, and its run page is not found", async () => {
    const list = await page(server, secondCookie, "/bench");
    expect(list.status).toBe(200);
    expect(list.html).toContain("No benchmark runs for this team yet.");
    for (const hidden of [firstRun, "first-private-model", operatorRun, "operator-private-model"]) expect(list.html).not.toContain(hidden);

    // Another team's run answers exactly what a run that does not exist answers.
    const unknown = await page(server, secondCookie, "/bench/no-such-run");
    expect(unknown.status).toBe(404);
    for (const runId of [firstRun, operatorRun]) {
      const report = await page(server, secondCookie, `/bench/${runId}`);
      expect(report.status).toBe(404);
      expect(report.html.replaceAll(runId, "no-such-run")).toBe(unknown.html);
    }
  });

  it("the first team's engineer sees its own run and its report, and not a run kept to the command line", async () => {
    const list = await page(server, firstCookie, "/bench");
    expect(list.html).toContain(`href="/bench/${firstRun}"`);
    expect(list.html).not.toContain(operatorRun);
    const report = await page(server, firstCookie, `/bench/${firstRun}`);
    expect(report.status).toBe(200);
    expect(report.html).toContain(`Benchmark ${firstRun}`);
    expect(report.html).toContain("first-private-model");
    expect((await page(server, firstCookie, `/bench/${operatorRun}`)).status).toBe(404);
  });

  it("a warm run starts only from a run of its own team", async () => {
    const third = await server.team("third");
    await expect(
      planTestRun(server.database.db, { driver: "oracle", suite: oneTask, phase: "warm", fromRunId: firstRun, teamId: third.id }),
    ).rejects.toThrow(`Run ${firstRun} belongs to another team`);
  });
});

describe("botboard bench run --team: the command line sees every run, a team's engineers their own", () => {
  // Postgres, so that the CLI's processes and the server that engineers use share one database.
  let server: TestServer;
  let firstCookie: string;
  let secondCookie: string;
  let outDir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startTestServer("postgres");
    firstCookie = await server.engineer(await server.team("first"), "ada-cli", "admin");
    secondCookie = await server.engineer(await server.team("second"), "bob-cli", "admin");
    outDir = mkdtempSync(join(tmpdir(), "botboard-bench-teams-"));
    env = { DATABASE_URL: server.config.databaseUrl!, LOG_LEVEL: "warn" };
  });
  afterAll(async () => {
    await server?.close();
    rmSync(outDir, { recursive: true, force: true });
  });
  const benchRun = (runId: string, ...flags: string[]) =>
    runBotboard(
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
        runId,
        "--out",
        join(outDir, runId),
        ...flags,
      ],
      env,
    );

  it("asks whose run it is when there are several teams, and shows a --team run to that team only", async () => {
    // The server made its first-run team "team": with it, three teams, so the CLI does not guess.
    const unnamed = await benchRun("cli-unnamed");
    expect(unnamed.code).not.toBe(0);
    expect(unnamed.stderr).toContain("There are 3 teams: say whose engineers see the run with --team (team, first, second)");
    expect(unnamed.stderr).not.toMatch(/\n\s+at /);

    const forSecond = await benchRun("cli-second", "--team", "second");
    expect(forSecond.stderr).toBe("");
    expect(forSecond.code).toBe(0);
    expect(forSecond.stdout).toContain("Run cli-second for team second");
    const forNoTeam = await benchRun("cli-operator", "--no-team");
    expect(forNoTeam.code).toBe(0);
    expect(forNoTeam.stdout).toContain("Run cli-operator for the command line only");

    expect((await page(server, secondCookie, "/bench")).html).toContain('href="/bench/cli-second"');
    expect((await page(server, secondCookie, "/bench/cli-second")).status).toBe(200);
    expect((await page(server, secondCookie, "/bench/cli-operator")).status).toBe(404);
    expect(audited((await page(server, secondCookie, "/admin")).html, "bench.run_added", "cli-second")).toBe(true);
    const firstList = (await page(server, firstCookie, "/bench")).html;
    expect(firstList).not.toContain("cli-second");
    expect(firstList).not.toContain("cli-operator");
    expect((await page(server, firstCookie, "/bench/cli-second")).status).toBe(404);

    // The operator's command line lists and reports every run, whoever it belongs to.
    const list = await runBotboard(["bench", "list"], env);
    expect(list.stdout).toMatch(
      /^cli-operator\tfinished\toracle\tisolated\t1\/1 trials, 1 passed\t\$0\.0000\tno team: the command line only$/m,
    );
    expect(list.stdout).toMatch(/^cli-second\tfinished\t.*\tteam second$/m);
    expect(list.stdout).not.toContain("cli-unnamed");
    expect((await runBotboard(["bench", "show", "cli-second"], env)).stdout).toMatch(/^cli-second \(team second\): finished/);
    const report = JSON.parse((await runBotboard(["bench", "report", "cli-operator", "--format", "json"], env)).stdout);
    expect(report.run.id).toBe("cli-operator");
  }, 180_000);

  it("bench assign hands a run to a team or takes it away, in the teams' audit logs; a resumed run keeps its team", async () => {
    const assigned = await runBotboard(["bench", "assign", "cli-operator", "--team", "first"], env);
    expect(assigned.stdout).toContain("Run cli-operator now belongs to team first.");
    expect((await page(server, firstCookie, "/bench/cli-operator")).status).toBe(200);
    expect((await page(server, secondCookie, "/bench/cli-operator")).status).toBe(404);
    expect(audited((await page(server, firstCookie, "/admin")).html, "bench.run_added", "cli-operator")).toBe(true);

    // Taken from a team: it leaves that team's /bench, and its audit log says so.
    await runBotboard(["bench", "assign", "cli-second", "--no-team"], env);
    expect((await page(server, secondCookie, "/bench/cli-second")).status).toBe(404);
    expect(audited((await page(server, secondCookie, "/admin")).html, "bench.run_removed", "cli-second")).toBe(true);

    const unsaid = await runBotboard(["bench", "assign", "cli-operator"], env);
    expect(unsaid.code).not.toBe(0);
    expect(unsaid.stderr).toContain("--team <slug>, or --no-team");
    const noSuchRun = await runBotboard(["bench", "assign", "no-such-run", "--no-team"], env);
    expect(noSuchRun.stderr).toContain("No benchmark run 'no-such-run'.");

    const resumed = await runBotboard(["bench", "run", "--resume", "cli-operator", "--team", "second"], env);
    expect(resumed.code).not.toBe(0);
    expect(resumed.stderr).toContain("A resumed run keeps its team");
  }, 60_000);
});
