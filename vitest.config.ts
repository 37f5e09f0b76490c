import { defineConfig } from "vitest/config";
import { LongestFirstSequencer } from "./test/support/sequencer.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Compiles the CLI to dist/ if the source changed (spawned `botboard` processes start from
    // JavaScript), and makes the migrated PGlite database that each test's fresh one copies.
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts its own servers and databases. Three files at a time on two cores: files often
    // wait (on a browser, a timer, a process starting), and a third keeps both cores busy meanwhile
    // (a quiet run: 434 s of test files with three workers, 473 s with two).
    maxWorkers: 3,
    // A worker imports the server's modules once for all its files, not once per file (about 2 s of
    // CPU each, three minutes over the suite). Files share no state but what the modules keep per
    // process, which is keyed by random ids; each file closes what it starts.
    isolate: false,
    sequence: { sequencer: LongestFirstSequencer },
    // BOTBOARD_TEST_CPU_LOG=cpu.jsonl logs each file's CPU, its own and its processes' (see the file).
    setupFiles: process.env.BOTBOARD_TEST_CPU_LOG ? ["test/support/cpu-per-file.ts"] : [],
  },
});
