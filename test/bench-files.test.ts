import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBotboard } from "./support/cli.ts";

/**
 * The files the benchmark reads back (a run dir for `bench report`, a price table for `--prices`):
 * each is checked against what the runner writes, and a bad one is refused in one line that names
 * the file, the line and the field, never read as something it is not.
 */

const folders = mkdtempSync(join(tmpdir(), "botboard-bench-files-"));
afterAll(() => rmSync(folders, { recursive: true, force: true }));

describe("botboard bench refuses a bad file in one line", () => {
  const env = { BOTBOARD_DATA_DIR: join(folders, "data"), LOG_LEVEL: "warn" };

  it("bench run with a bad --prices file: refused before a database is opened or a trial planned", async () => {
    const prices = join(folders, "prices.json");
    // A misspelt field would drop out and price cache reads as input.
    writeFileSync(prices, JSON.stringify({ "gpt-5": { inputPerMTok: 1.25, outputPerMTok: 10, cacheReadPerMtok: 0.125 } }));
    const misspelt = await runBotboard(["bench", "run", "--driver", "oracle", "--prices", prices, "--no-team"], env);
    expect(misspelt).toMatchObject({
      code: 1,
      stderr: `botboard: ${prices}: gpt-5.cacheReadPerMtok: Unrecognized key: "cacheReadPerMtok"\n`,
    });
    writeFileSync(prices, "{ not json");
    const notJson = await runBotboard(["bench", "run", "--driver", "oracle", "--prices", prices, "--no-team"], env);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(new RegExp(`^botboard: ${prices} is not JSON: [^\\n]+\\n$`));
    expect(existsSync(env.BOTBOARD_DATA_DIR)).toBe(false);
  });
});
