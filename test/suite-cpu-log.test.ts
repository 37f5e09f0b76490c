import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runProcess } from "./support/cli.ts";

const checkout = fileURLToPath(new URL("..", import.meta.url));
const vitest = join(checkout, "node_modules", "vitest", "vitest.mjs");

describe("the suite's CPU log (README, Development)", () => {
  it("BOTBOARD_TEST_CPU_LOG gets one line per test file with its worker's CPU, its processes' and its wall time", async () => {
    const log = join(mkdtempSync(join(tmpdir(), "botboard-cpu-log-")), "cpu.jsonl");
    const run = await runProcess(process.execPath, [vitest, "run", "test/text-links.test.ts", "test/admin-socket.test.ts"], {
      env: { BOTBOARD_TEST_CPU_LOG: log },
      cwd: checkout,
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const lines = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.file).sort()).toEqual(["test/admin-socket.test.ts", "test/text-links.test.ts"]);
    for (const line of lines) {
      expect(line).toEqual({
        file: expect.any(String),
        workerCpuMs: expect.any(Number),
        startedProcessesCpuMs: expect.any(Number),
        wallMs: expect.any(Number),
      });
    }
  }, 120_000);
});
