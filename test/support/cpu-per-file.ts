import { appendFileSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";

/**
 * With BOTBOARD_TEST_CPU_LOG set, vitest.config.ts runs this before each test file: it appends one
 * JSON line per file to that path with the CPU its worker spent on it and the CPU of the processes
 * the file started and waited for (servers, commands, Chromium), in ms, and its wall time. That is
 * where the suite's time goes, file by file (README, Development). The children's CPU comes from
 * /proc, so it is null where there is none.
 */
const logPath = process.env.BOTBOARD_TEST_CPU_LOG!;

/** /proc counts CPU in clock ticks of 1/100 s (USER_HZ) on Linux. */
const msPerClockTick = 10;

/** CPU ms of this process's children that have ended and been waited for (cutime + cstime). */
function endedChildrenCpuMs(): number | null {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[13]) + Number(fields[14])) * msPerClockTick;
  } catch {
    return null;
  }
}

let ownAtStart: NodeJS.CpuUsage;
let childrenAtStart: number | null;
let startedAt: number;

beforeAll(() => {
  ownAtStart = process.cpuUsage();
  childrenAtStart = endedChildrenCpuMs();
  startedAt = performance.now();
});

// Set-up files' hooks run around the file's own, so this one counts its afterAll (closing servers) too.
afterAll(() => {
  const own = process.cpuUsage(ownAtStart);
  const children = endedChildrenCpuMs();
  const line = {
    file: relative(process.cwd(), expect.getState().testPath ?? "unknown"),
    workerCpuMs: Math.round((own.user + own.system) / 1000),
    startedProcessesCpuMs: children === null || childrenAtStart === null ? null : children - childrenAtStart,
    wallMs: Math.round(performance.now() - startedAt),
  };
  appendFileSync(logPath, `${JSON.stringify(line)}\n`);
});
