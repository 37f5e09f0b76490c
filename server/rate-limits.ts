import { sql } from "drizzle-orm";
import type { Db } from "./db/client.ts";
import { AppError } from "./errors.ts";

/** A bucket holds up to `capacity` tries and refills `perSecond` tries every second. */
export type BucketRule = { capacity: number; perSecond: number };

/**
 * Takes one try from the bucket `key`, in one statement on the shared table, so every server process
 * counts against the same bucket. A refused try still costs a little (the bucket floors at -1),
 * so hammering does not keep a bucket full.
 */
export async function takeFromBucket(db: Db, key: string, rule: BucketRule): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
  const rows = await db.execute<{ tokens: number }>(sql`
    insert into rate_limit_buckets as bucket (key, tokens, updated_at)
    values (${key}, ${rule.capacity - 1}, clock_timestamp())
    on conflict (key) do update set
      tokens = greatest(
        least(${rule.capacity}::float8, bucket.tokens + extract(epoch from clock_timestamp() - bucket.updated_at) * ${rule.perSecond}::float8) - 1,
        -1),
      updated_at = clock_timestamp()
    returning tokens`);
  const tokens = Number(rowsOf<{ tokens: number }>(rows)[0]?.tokens ?? 0);
  return { allowed: tokens >= 0, retryAfterSeconds: tokens >= 0 ? 0 : Math.ceil((0 - tokens) / rule.perSecond) };
}

/** postgres.js returns an array of rows; PGlite returns {rows}. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}

/** Sign-in tries: per account (whether or not it exists, so the limit reveals nothing) and per address. */
export const loginRules = {
  perAccount: { capacity: 10, perSecond: 1 / 30 },
  perAddress: { capacity: 30, perSecond: 1 / 2 },
} satisfies Record<string, BucketRule>;

/** Throws rate_limited before a password is even checked when either bucket is empty. */
export async function throttleLogin(db: Db, username: string, address: string): Promise<void> {
  const [account, origin] = await Promise.all([
    takeFromBucket(db, `login:account:${username.trim().toLowerCase().slice(0, 200)}`, loginRules.perAccount),
    takeFromBucket(db, `login:address:${address}`, loginRules.perAddress),
  ]);
  if (!account.allowed || !origin.allowed) {
    const wait = Math.max(account.retryAfterSeconds, origin.retryAfterSeconds);
    throw new AppError("rate_limited", `Too many sign-in attempts. Wait ${wait} seconds and try again.`, wait);
  }
}
