import { basename } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files that run longest on this project's CI machine (seconds of a quiet run, roughly), started
 * first so that the two workers finish together rather than one running a slow file alone at the
 * end. Vitest orders by the last run's durations only when it has a cache, which a fresh clone has
 * not; by file size instead, it started these small, process-spawning files last. The list only
 * orders files: one missing from it, or a new one, runs after these, in vitest's own order.
 */
const longestFirst = [
  "delivery",
  "load",
  "bench-accounting",
  "engineers",
  "web-feed-place-browser",
  "cli",
  "semantic-search",
  "rate-limits",
  "bench-stats",
  "team-archive",
  "bench-calibration",
  "web-feed-browser",
  "package",
  "untrusted-archive",
  "claims-cli",
  "bench-queue",
  "shutdown",
  "bench-push",
  "bench-doors",
  "bounded-cost",
  "upgrades",
  "web-feed-details-browser",
  "push",
  "web-pages",
  "sign-in-hardening",
  "web-http",
  "web-feed-visits-browser",
  "bench-teams",
  "web-admin-browser",
  "oauth-browser",
  "pgbouncer",
  "web-journal-browser",
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
