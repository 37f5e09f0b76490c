import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { runProcess } from "./drivers/process.ts";
import type { BenchTask, TaskFile, TestRunner } from "./suites.ts";

const testTimeoutMs = 120_000;

export type TestCount = { passed: number; failed: number };

export type HiddenTestResult = {
  /** The runner exited with success and counted at least one test that ran and passed, none failed. */
  passed: boolean;
  count: TestCount;
  timedOut: boolean;
  aborted: boolean;
  /** The runner's output, then the count as the benchmark read it. */
  output: string;
  /** What went wrong beyond failing tests: they timed out, or the runner exited with success yet counted no test. */
  error: string | null;
};

function copyFiles(files: TaskFile[], folder: string): void {
  for (const file of files) {
    const target = join(folder, file.target);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file.source, target);
  }
}

/**
 * The folder the tests run in: the task's own starter files, then the agent's versions of the
 * task's solution files (only those, and only regular files), then the hidden tests. Nothing else
 * the agent left in its workspace (a `unittest` package, a `conftest.py`, a test runner's config,
 * `node_modules`) comes along, so it cannot stand in for the runner or change what runs.
 */
function assembleTestFolder(task: BenchTask, workspace: string): string {
  const folder = mkdtempSync(join(tmpdir(), `botboard-bench-tests-${task.slug}-`));
  const solutionTargets = new Set(task.solution.map((file) => file.target));
  copyFiles(
    task.starter.filter((file) => !solutionTargets.has(file.target)),
    folder,
  );
  const agentFiles = [...solutionTargets]
    .map((target) => ({ source: join(workspace, target), target }))
    .filter((file) => existsSync(file.source) && lstatSync(file.source).isFile());
  copyFiles(agentFiles, folder);
  copyFiles(task.tests, folder);
  return folder;
}

/** `Ran 5 tests in 0.01s` then `OK (skipped=1)` or `FAILED (failures=1, errors=2)`: unittest's summary on stderr. */
function countUnittest(output: string): TestCount {
  const ran = [...output.matchAll(/^Ran (\d+) tests? in /gm)].at(-1);
  if (!ran) return { passed: 0, failed: 0 };
  const verdict = output.slice(ran.index).match(/^(OK|FAILED)(?: \(([^)]*)\))?$/m);
  const details = Object.fromEntries(
    [...(verdict?.[2] ?? "").matchAll(/(\w+)=(\d+)/g)].map(([, key, value]) => [key!, Number(value)] as const),
  );
  const failed = (details.failures ?? 0) + (details.errors ?? 0) + (details.unexpected_successes ?? 0);
  const notRun = (details.skipped ?? 0) + (details.expected_failures ?? 0);
  return { passed: Math.max(0, Number(ran[1]) - failed - notRun), failed: verdict ? failed : Math.max(1, failed) };
}

/** pytest's last line: `=== 4 passed, 1 failed, 2 skipped in 0.12s ===`. */
function countPytest(output: string): TestCount {
  const summary = [...output.matchAll(/^=+ (.*) in [\d.]+s.* =+$/gm)].at(-1)?.[1] ?? "";
  const number = (word: string) => Number(summary.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
  return { passed: number("passed"), failed: number("failed") + number("errors?") };
}

/**
 * node --test's TAP: one `ok`/`not ok` line per test, then a YAML block (`type: 'suite'` marks a
 * describe block, which is no test). A test file whose process ends with success before reporting a
 * test shows as one passing test named after the file: that one is no test either.
 */
function countNodeTest(output: string, testFiles: string[]): TestCount {
  const count = { passed: 0, failed: 0 };
  const fileNames = new Set(testFiles.map((file) => basename(file)));
  const results = output.matchAll(/^( *)(not )?ok \d+ - (.*)\n(?:\1 {2}---\n([\s\S]*?)\n\1 {2}\.\.\.)?/gm);
  for (const [, , not, name, details] of results) {
    if (/#\s*(SKIP|TODO)\b/i.test(name!) || fileNames.has(basename(name!.trim())) || /^\s*type: 'suite'$/m.test(details ?? "")) continue;
    if (not) count.failed++;
    else count.passed++;
  }
  return count;
}

/** vitest's summary line: `Tests  1 failed | 4 passed | 2 skipped (7)`. */
function countVitest(output: string): TestCount {
  const summary = [...output.matchAll(/^\s*Tests\s+(.*)\(\d+\)\s*$/gm)].at(-1)?.[1] ?? "";
  const number = (word: string) => Number(summary.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
  return { passed: number("passed"), failed: number("failed") };
}

/** How many tests ran and passed or failed, read from the runner's own summary. */
export function countTests(runner: TestRunner, output: string, testFiles: string[]): TestCount {
  switch (runner) {
    case "unittest":
      return countUnittest(output);
    case "pytest":
      return countPytest(output);
    case "node":
      return countNodeTest(output, testFiles);
    case "vitest":
      return countVitest(output);
  }
}

const plural = (count: number) => `${count} ${count === 1 ? "test" : "tests"}`;

/**
 * Runs a task's hidden tests on what the agent left, outside its workspace (assembleTestFolder).
 * The agent's word is never taken, nor the runner's exit code alone: a pass needs a positive count
 * of tests that ran and passed in the runner's output, and none failed.
 */
export async function runHiddenTests(task: BenchTask, workspace: string, signal: AbortSignal): Promise<HiddenTestResult> {
  const folder = assembleTestFolder(task, workspace);
  try {
    const [command, ...args] = task.testCommand;
    const tested = await runProcess(command!, args, {
      cwd: folder,
      env: { PATH: process.env.PATH ?? "", HOME: folder, PYTHONDONTWRITEBYTECODE: "1", NO_COLOR: "1" },
      timeoutMs: testTimeoutMs,
      signal,
    });
    const output = `${tested.stdout}\n${tested.stderr}`.trim();
    const count = countTests(
      task.testRunner,
      output,
      task.tests.map((file) => file.target),
    );
    const succeeded = tested.exitCode === 0 && !tested.timedOut && count.failed === 0;
    const error = tested.timedOut
      ? "the tests timed out"
      : succeeded && count.passed === 0
        ? `no test passed: the runner exited with success, but its output (${task.testRunner}) counts no test that ran`
        : null;
    return {
      passed: succeeded && count.passed > 0,
      count,
      timedOut: tested.timedOut,
      aborted: tested.aborted,
      output: `${output}\n${plural(count.passed)} passed, ${count.failed} failed (${task.testRunner})`,
      error,
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
