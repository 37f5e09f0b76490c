import { basename } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files that run longest on this project's CI machine (seconds of a quiet run, roughly), started
 * first so that the workers finish together rather than one running a slow file alone at the
 * end. Vitest orders by the last run's durations only when it has a cache, which a fresh clone has
 * not; by file size instead, it started these small, process-spawning files last. The list only
 * orders files: one missing from it, or a new one, runs after these, in vitest's own order.
 */
const longestFirst = [
  "delivery",
  "load",
  "web-feed-place-browser",
  "live-empty-feed-browser",
  "bench-accounting",
  "bench-calibration",
  "bench-stats",
  "engineers",
  "cli",
  "web-feed-browser",
  "bench-queue",
  "claims-cli",
  "bench-push",
  "live-cards-browser",
  "inbox-browser",
  "rate-limits",
  "untrusted-archive",
  "package",
  "upgrades",
  "bench-teams",
  "team-archive",
  "web-feed-visits-browser",
  "bench-doors",
  "shutdown",
  "push",
  "web-admin-browser",
  "bench-agents",
  "web-pages",
  "faults",
  "oauth-browser",
  "mcp-stdio",
  "bounded-cost",
  "semantic-search",
  "guard",
  "web-http",
  "migrations",
  "webhooks-browser",
  "run-from-source",
  "pgbouncer",
  "web-feed-details-browser",
  "rate-limit-leases",
  "sign-in-hardening",
];

function rank(file: TestSpecification): number {
  const index = longestFirst.indexOf(basename(file.moduleId, ".test.ts"));
  return index === -1 ? longestFirst.length : index;
}

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const byVitest = await super.sort(files);
    return byVitest
      .map((file, order) => ({ file, order }))
      .sort((a, b) => rank(a.file) - rank(b.file) || a.order - b.order)
      .map(({ file }) => file);
  }
}
