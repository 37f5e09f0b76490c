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
    // Each file starts its own servers and databases; two cores run two files at a time.
    maxWorkers: 2,
    sequence: { sequencer: LongestFirstSequencer },
  },
});
