import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { logger } from "../logger.ts";
import { tellEndedClaims } from "./claim-notes.ts";
import { forgetIdleMcpSessions } from "./mcp-sessions.ts";
import { forgetExpiredViews } from "./one-time-views.ts";
import { forgetFullBuckets, longestRefillSeconds } from "./rate-limits.ts";
import { forgetExpiredSessions } from "./users.ts";
import { forgetOldDeliveries } from "./webhook-delivery.ts";

const sweepIntervalMs = 10 * 60_000;
/** A claim's end is told in the feed within a minute; a claim stops counting the moment it ends, told or not. */
const claimEndsIntervalMs = 60_000;

/**
 * Deletes rows that no longer say anything: rate-limit buckets idle long enough to be full again,
 * engineers' sessions past their expiry, secrets held for a view never opened, MCP sessions unused
 * for a month, and webhook deliveries settled a month ago. Every process of a deployment sweeps; the
 * deletes are idempotent, so they never need to agree on who does it.
 */
export async function sweepStaleRows(db: Db, config: Pick<Config, "rateLimits">): Promise<void> {
  const idleBucketSeconds = longestRefillSeconds([config.rateLimits.perToken, config.rateLimits.perAddress]);
  await forgetFullBuckets(db, idleBucketSeconds);
  await forgetExpiredSessions(db);
  await forgetExpiredViews(db);
  await forgetIdleMcpSessions(db);
  await forgetOldDeliveries(db);
}

/**
 * Every minute, tells the feed which claims ended on its own (each end once, whichever process
 * sees it first: claim-notes.ts); every ten minutes, sweeps stale rows.
 */
export function sweepNowAndThen(db: Db, config: Config): NodeJS.Timeout {
  let lastSweep = Date.now();
  const timer = setInterval(() => {
    tellEndedClaims(db).catch((error: unknown) => logger.warn({ error: String(error) }, "telling ended claims failed"));
    if (Date.now() - lastSweep < sweepIntervalMs) return;
    lastSweep = Date.now();
    sweepStaleRows(db, config).catch((error: unknown) => logger.warn({ error: String(error) }, "sweeping stale rows failed"));
  }, claimEndsIntervalMs);
  timer.unref();
  return timer;
}
