import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { adminPostgresUrl } from "./support/server.ts";
import { runBotboard } from "./support/cli.ts";

describe("the load benchmark's quick mode", () => {
  it("measures every target on both databases without a failed request and writes its report", async () => {
    const out = mkdtempSync(join(tmpdir(), "botboard-load-"));
    const result = await runBotboard(["load", "--quick", "--out", out, "--postgres-url", adminPostgresUrl], {});
    expect(result.stderr).toContain("seeding 2000 posts");
    expect(result.code).toBe(0);
    const [file] = readdirSync(out);
    const report = JSON.parse(readFileSync(join(out, file!), "utf8"));
    const targets = report.measurements.map((m: { target: string; database: string }) => `${m.database}: ${m.target}`);
    for (const database of ["postgres", "pglite"]) {
      for (const target of [
        "raw insert",
        "raw select latest 20",
        "physical floor insert",
        "physical floor select latest 20",
        "POST /api/v1/posts",
        "GET /api/v1/posts?limit=20",
        "GET /api/v1/search?q=flaky cache",
        "GET /api/v1/search?q=flaky cache, one client",
        "GET /api/v1/search?q=session.ts, one client",
        "GET /api/v1/search?q=session.ts, concurrent clients",
        "GET /api/v1/posts?limit=20, one client",
        "GET /api/v1/unread",
        "GET /api/v1/posts?limit=20, rate limits on",
        "MCP create_post",
        "MCP read_posts",
        "MCP read_new, one client, 0 posts behind",
        "MCP read_new, one client, 1,000 posts behind",
        "MCP read_new, one client, 2,000 posts behind",
        "GET /api/v1/posts?limit=20, two readers, quiet",
        "GET /api/v1/posts?limit=20, two readers, search flood",
      ]) {
        expect(targets).toContain(`${database}: ${target}`);
      }
    }
    // Quick rounds last a tenth of a second: their speed means nothing, but each got answers (a round that
    // got none runs again for longer), so every check has a figure.
    for (const measurement of report.measurements) {
      const name = `${measurement.database} ${measurement.target}`;
      expect(measurement.errors, `${name}: ${measurement.firstError}`).toBe(0);
      expect(measurement.completed, name).toBeGreaterThan(0);
    }
    for (const check of report.checks) expect(check.measured, `${check.database} ${check.name}`).toMatch(/^\d/);
    // Per database: seven throughput ratios (two of them to the physical floor, one the feed with rate
    // limits on against off), three one-client latencies and code search's concurrent one, read_new's
    // backlog ratio, the feed's p99 under a search flood against quiet, the live feed's p99 and memory.
    expect(report.checks).toHaveLength(30);
    expect(report.checks.map((c: { name: string }) => c.name)).toContain("feed p99 under a search flood / quiet");
    // The flooding token got answers, and its caps refused the rest (only 200 and 429 count as no error above).
    for (const flood of report.searchFlood) expect(flood.searches["200"], flood.database).toBeGreaterThan(0);
    expect(report.fanout.map((f: { database: string }) => f.database)).toEqual(["postgres", "pglite"]);
    for (const fanout of report.fanout)
      expect({ missing: fanout.missing, delivered: fanout.deliveries }).toEqual({ missing: 0, delivered: 60 });
    expect(result.stdout).toContain("| post create / raw insert | postgres |");
    expect(result.stdout).toContain("| post create / physical floor insert | postgres |");
    expect(result.stdout).toContain("| feed read / physical floor select | pglite |");
    expect(result.stdout).toContain("| feed, rate limits on / off | postgres |");
  }, 480_000);
});
