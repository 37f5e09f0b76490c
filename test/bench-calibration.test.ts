import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nullDriver, oracleDriver } from "../bench/drivers/calibration.ts";
import { emptyResult, type Driver } from "../bench/drivers/driver.ts";
import { loadSuite, type Suite } from "../bench/suites.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { planTestRun, runToEnd } from "./support/bench.ts";

/**
 * The suites calibrate the harness: every task's reference solution passes its hidden tests and its
 * starter files fail them. A task where either is not so measures nothing.
 */

const exercismFixture = fileURLToPath(new URL("./fixtures/exercism", import.meta.url));

function writeInto(workspace: string, path: string, content: string): void {
  mkdirSync(dirname(join(workspace, path)), { recursive: true });
  writeFileSync(join(workspace, path), content);
}

/**
 * An agent that makes unsolved tasks pass without solving them: it shadows the runner in its
 * workspace (a `unittest` package that exits 0, a vitest config that finds no tests and passes).
 */
const runnerShadowingDriver: Driver = {
  name: "shadow",
  async check() {},
  async run({ workspace }) {
    writeInto(workspace, "unittest/__init__.py", "");
    writeInto(workspace, "unittest/__main__.py", "import sys\nsys.exit(0)\n");
    writeInto(workspace, "conftest.py", "import os\nos._exit(0)\n");
    writeInto(workspace, "vitest.config.mjs", 'export default { test: { include: ["nothing/**"], passWithNoTests: true } };\n');
    return emptyResult();
  },
};

/** An agent whose solution ends the test process with success before any test runs. */
const exitingSolutionDriver: Driver = {
  name: "exit",
  async check() {},
  async run({ task, workspace }) {
    for (const file of task.solution) {
      const starter = readFileSync(join(workspace, file.target), "utf8");
      const exit = file.target.endsWith(".py") ? "import sys\nsys.exit(0)\n" : "process.exit(0);\n";
      writeFileSync(join(workspace, file.target), exit + starter);
    }
    return emptyResult();
  },
};

/** One task per runner: unittest discovery, node --test, vitest; and the Exercism fixture (unittest by name, vitest). */
const oneTaskPerRunner = (): Suite[] => [loadSuite("builtin", ["run-length", "line-diff", "money-split"]), loadSuite(exercismFixture)];

describe("builtin suite and the Exercism loader", () => {
  it("the builtin suite has at least 12 tasks in Python and JavaScript, some hard", () => {
    const suite = loadSuite("builtin");
    expect(suite.tasks.length).toBeGreaterThanOrEqual(12);
    expect(new Set(suite.tasks.map((task) => task.language))).toEqual(new Set(["python", "javascript", "typescript"]));
    expect(suite.tasks.filter((task) => task.difficulty === "hard").length).toBeGreaterThanOrEqual(2);
    for (const task of suite.tasks) {
      expect(task.starter.length, task.slug).toBeGreaterThan(0);
      expect(task.tests.length, task.slug).toBeGreaterThan(0);
      expect(task.solution.length, task.slug).toBeGreaterThan(0);
    }
  });

  it("an Exercism-layout folder loads with its instructions, files and test command", () => {
    const suite = loadSuite(exercismFixture);
    expect(suite.tasks.map((task) => [task.slug, task.language])).toEqual([
      ["vowel-count", "javascript"],
      ["leap-count", "python"],
    ]);
    const leap = suite.tasks.find((task) => task.slug === "leap-count")!;
    expect(leap.prompt).toContain("Count the leap years");
    expect(leap.prompt).toContain("leap_count.py");
    expect(leap.starter.map((file) => file.target).sort()).toEqual(["leap_count.py", "leap_count_test.py"]);
    expect(leap.solution).toEqual([{ source: expect.stringContaining(".meta/example.py"), target: "leap_count.py" }]);
    expect(leap.testCommand).toEqual(["python3", "-m", "unittest", "leap_count_test"]);
    expect(leap.testRunner).toBe("unittest");
    expect(suite.tasks.find((task) => task.slug === "vowel-count")!.testRunner).toBe("vitest");
  });

  it("a task whose test command the benchmark cannot count tests of is refused when the suite loads", () => {
    const suite = mkdtempSync(join(tmpdir(), "botboard-suite-"));
    writeInto(
      suite,
      "shell-task/task.json",
      JSON.stringify({ title: "Shell", language: "python", difficulty: "easy", prompt: "Do it.", test: ["bash", "run-tests.sh"] }),
    );
    expect(() => loadSuite(suite)).toThrow(/the test command must start python3 -m unittest.*node --test or vitest/);
  });

  it("a folder with no tasks is a clear error", () => {
    expect(() => loadSuite(fileURLToPath(new URL("./support", import.meta.url)))).toThrow(/No tasks found/);
  });
});

describe.each(databaseKinds)("calibration on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("oracle passes every builtin trial and null fails every one", async () => {
    const db = server.database.db;
    const [oracle, nothing] = await Promise.all([
      planTestRun(db, { driver: "oracle" }).then((planned) => runToEnd(db, planned, oracleDriver, server.url, { concurrency: 2 })),
      planTestRun(db, { driver: "null" }).then((planned) => runToEnd(db, planned, nullDriver, server.url, { concurrency: 2 })),
    ]);
    expect(oracle.result.status).toBe("finished");
    expect(oracle.trials.filter((trial) => !trial.passed).map((trial) => `${trial.taskSlug}: ${trial.testOutput}`)).toEqual([]);
    expect(oracle.trials.every((trial) => trial.costUsd === 0 && trial.turns === 0)).toBe(true);
    // Every trial records what ran it; the oracle has no agent CLI.
    const [software] = oracle.trials.map((trial) => trial.software);
    expect(software).toEqual({ botboard: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version, agent: null });
    expect(oracle.trials.every((trial) => JSON.stringify(trial.software) === JSON.stringify(software))).toBe(true);
    for (const trial of oracle.trials) expect(trial.testOutput, trial.taskSlug).toMatch(/\n\d+ tests? passed, 0 failed \(\w+\)$/);
    expect(nothing.trials.filter((trial) => trial.passed).map((trial) => trial.taskSlug)).toEqual([]);
    expect(nothing.trials.length).toBe(loadSuite("builtin").tasks.length);
  }, 120_000);

  it("oracle passes and null fails the Exercism-layout fixture", async () => {
    const db = server.database.db;
    const suite = loadSuite(exercismFixture);
    const oracle = await runToEnd(db, await planTestRun(db, { driver: "oracle", suite }), oracleDriver, server.url);
    const nothing = await runToEnd(db, await planTestRun(db, { driver: "null", suite }), nullDriver, server.url);
    // Trials run in a seeded random order: compare them by task.
    const byTask = Object.fromEntries(oracle.trials.map((trial) => [trial.taskSlug, trial]));
    expect(Object.keys(byTask).sort()).toEqual(["leap-count", "vowel-count"]);
    expect(oracle.trials.every((trial) => trial.passed)).toBe(true);
    // Exercism's xtest, xit and xdescribe run like test, it and describe: all four tests count.
    expect(byTask["vowel-count"]!.testOutput).toMatch(/4 tests passed, 0 failed \(vitest\)$/);
    expect(nothing.trials.map((trial) => trial.passed)).toEqual([false, false]);
  }, 60_000);

  it("a workspace that shadows the test runner fails", async () => {
    const db = server.database.db;
    for (const suite of oneTaskPerRunner()) {
      const { trials } = await runToEnd(db, await planTestRun(db, { driver: "shadow", suite }), runnerShadowingDriver, server.url);
      expect(trials.filter((trial) => trial.passed).map((trial) => `${trial.taskSlug}: ${trial.testOutput}`)).toEqual([]);
    }
  }, 120_000);

  it("a solution that exits before any test runs fails: a pass needs tests that ran and passed", async () => {
    const db = server.database.db;
    for (const suite of oneTaskPerRunner()) {
      const { trials } = await runToEnd(db, await planTestRun(db, { driver: "exit", suite }), exitingSolutionDriver, server.url);
      expect(trials.filter((trial) => trial.passed).map((trial) => `${trial.taskSlug}: ${trial.testOutput}`)).toEqual([]);
      // Where the runner itself exits with success (node --test, unittest by module name), the count says why.
      for (const trial of trials.filter((trial) => ["line-diff", "leap-count"].includes(trial.taskSlug))) {
        expect(trial.testError, trial.taskSlug).toMatch(/no test passed/);
      }
      // The solution failed, not the agent's run: no trial is an error, so each pairs with the baseline as a failure.
      expect(trials.map((trial) => trial.error)).toEqual(trials.map(() => null));
    }
  }, 120_000);
});
