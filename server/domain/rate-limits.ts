import { sql } from "drizzle-orm";
import { executePrepared, isThisProcessAlone, type Db } from "../db/client.ts";
import { AppError } from "./errors.ts";
import { hashSecret } from "./tokens.ts";
import { rateLimitRefusals } from "../metrics.ts";

/** A bucket holds up to `capacity` tries and refills `perSecond` tries every second. */
export type BucketRule = { capacity: number; perSecond: number };

/** One bucket a request draws from: `policy` names it in the RateLimit headers, `key` is its row. */
export type BucketClaim = { policy: string; key: string; rule: BucketRule };

/** Where one bucket stands after a request: what the RateLimit headers report. */
export type BucketState = {
  policy: string;
  rule: BucketRule;
  allowed: boolean;
  /** Whole tries left now. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until the next try would be allowed (0 when one is available). */
  retryAfterSeconds: number;
};

export type Allowance = { allowed: boolean; retryAfterSeconds: number; buckets: BucketState[] };

type BucketRow = { key: string; tokens: number; granted: number; taken: boolean; elapsed?: number };

/**
 * Takes one try from every bucket that has one, in a single statement on the shared table, so all
 * server processes count against the same buckets. A bucket without a try is left untouched (a
 * refused request does not use up what the client is allowed), so its row is read back afterwards
 * to say when it may try again. Sign-in and set-up tries take from the table directly, one at a time,
 * so their few tries are exact.
 */
export async function takeFromBuckets(db: Db, claims: readonly BucketClaim[]): Promise<Allowance> {
  if (claims.length === 0) return { allowed: true, retryAfterSeconds: 0, buckets: [] };
  const rowByKey = await drawTries(
    db,
    claims,
    claims.map(() => 1),
  );
  return allowanceOf(claims.map((claim) => stateOf(claim, rowByKey.get(claim.key))));
}

/**
 * Takes up to `wanted[i]` tries from each claim's bucket (at least one, else none) in one statement,
 * and reads back the rows of the buckets that had none. Claims always list keys in the same order,
 * so two concurrent statements never lock each other's rows crosswise.
 */
async function drawTries(db: Db, claims: readonly BucketClaim[], wanted: readonly number[]): Promise<Map<string, BucketRow>> {
  const taken = await executePrepared<BucketRow>(db, takeTries, [
    claims.map((claim) => claim.key),
    claims.map((claim) => claim.rule.capacity),
    claims.map((claim) => claim.rule.perSecond),
    wanted,
  ]);
  const takenKeys = new Set(taken.map((row) => row.key));
  const refusedKeys = claims.map((claim) => claim.key).filter((key) => !takenKeys.has(key));
  const refused = refusedKeys.length === 0 ? [] : await executePrepared<BucketRow>(db, readBuckets, [refusedKeys]);
  return new Map([...taken, ...refused].map((row) => [row.key, row]));
}

/**
 * One text whatever the number of claims (they come as arrays), so it is prepared once per
 * connection. `granted` records how many tries the take handed out, for RETURNING to report.
 */
const refilled = `(select least(w.capacity, bucket.tokens + extract(epoch from clock_timestamp() - bucket.updated_at) * w.per_second)
  from wanted w where w.key = bucket.key)`;
const wantedOf = "(select w.wanted from wanted w where w.key = bucket.key)";
const takeTries = `
  with wanted (key, capacity, per_second, wanted) as (select * from unnest($1::text[], $2::float8[], $3::float8[], $4::int[]))
  insert into rate_limit_buckets as bucket (key, tokens, granted, updated_at)
  select key, capacity - least(wanted, floor(capacity)), least(wanted, floor(capacity)), clock_timestamp() from wanted
  on conflict (key) do update set
    tokens = ${refilled} - least(${wantedOf}, floor(${refilled})),
    granted = least(${wantedOf}, floor(${refilled})),
    updated_at = clock_timestamp()
    where ${refilled} >= 1
  returning key, tokens, granted, true as taken`;
const readBuckets = `
  select key, tokens, 0 as granted, extract(epoch from clock_timestamp() - updated_at) as elapsed, false as taken
  from rate_limit_buckets where key = any($1::text[])`;

function allowanceOf(buckets: BucketState[]): Allowance {
  const allowed = buckets.every((bucket) => bucket.allowed);
  return { allowed, retryAfterSeconds: Math.max(0, ...buckets.map((bucket) => bucket.retryAfterSeconds)), buckets };
}

function stateOf(claim: BucketClaim, row: BucketRow | undefined): BucketState {
  const allowed = row?.taken === true;
  // A refused bucket was not written, so what it holds now is its stored tokens plus the refill since.
  return bucketState(
    claim,
    allowed,
    Number(row?.tokens ?? claim.rule.capacity) + (allowed ? 0 : Number(row?.elapsed ?? 0) * claim.rule.perSecond),
  );
}

function bucketState(claim: BucketClaim, allowed: boolean, available: number): BucketState {
  const { capacity, perSecond } = claim.rule;
  const tokens = Math.min(capacity, available);
  return {
    policy: claim.policy,
    rule: claim.rule,
    allowed,
    remaining: Math.max(0, Math.floor(tokens)),
    resetSeconds: Math.ceil((capacity - tokens) / perSecond),
    // A refused bucket may have refilled a try by the time it is read back: its client still waits a second, never "0 seconds".
    retryAfterSeconds: allowed && tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / perSecond)),
  };
}

/**
 * Tries a process has taken from a shared bucket and not yet spent. `bucketTokens` is what the
 * bucket held right after the lease, `leasedAt` when (ms, this process's clock); `renewal` is the
 * statement in flight that takes the next lease, which concurrent requests wait for.
 */
type Lease = { tries: number; bucketTokens: number; leasedAt: number; renewal?: Promise<Map<string, BucketRow>> };

/**
 * A process takes this many tries at once from a bucket of this rule and spends them without a
 * database write: at most 16, and at most an eighth of the burst, so a small bucket (the tests',
 * or a strict operator's) is still exact, one try a statement.
 */
export function leaseSizeOf(rule: BucketRule): number {
  return Math.max(1, Math.min(maxLeaseTries, Math.floor(rule.capacity / 8)));
}
const maxLeaseTries = 16;
/** Past this many buckets a process forgets leases (their tries are lost, never added), or full buckets kept in memory. */
const maxBucketsPerProcess = 10_000;
const leasesByDb = new WeakMap<Db, Map<string, Lease>>();

/**
 * Takes one try from each claim's bucket, spending this process's lease of the bucket when it has
 * one; otherwise takes a new lease for every bucket that ran out, in one statement (concurrent
 * requests wait for it rather than send their own). A refused request spends nothing.
 */
async function takeLeased(db: Db, claims: readonly BucketClaim[]): Promise<Allowance> {
  const leases = leasesByDb.get(db) ?? new Map<string, Lease>();
  leasesByDb.set(db, leases);
  forgetOldestLeases(leases, claims);
  for (;;) {
    const renewals = claims.flatMap((claim) => leases.get(claim.key)?.renewal ?? []);
    if (renewals.length > 0) await Promise.all(renewals.map((renewal) => renewal.catch(() => undefined)));
    const short = claims.filter((claim) => (leases.get(claim.key)?.tries ?? 0) < 1);
    if (short.length === 0) return spendLeased(leases, claims);
    if (short.some((claim) => leases.get(claim.key)?.renewal)) continue;
    const rowByKey = await renewLeases(db, leases, short);
    const refused = short.filter((claim) => rowByKey.get(claim.key)?.taken !== true);
    if (refused.length > 0) {
      return allowanceOf(
        claims.map((claim) => {
          // Another request may have forgotten this lease meanwhile (past 10,000 buckets): then its row says.
          const lease = leases.get(claim.key);
          return refused.includes(claim) || !lease ? stateOf(claim, rowByKey.get(claim.key)) : leasedState(claim, lease);
        }),
      );
    }
  }
}

function renewLeases(db: Db, leases: Map<string, Lease>, claims: readonly BucketClaim[]): Promise<Map<string, BucketRow>> {
  const claimed = claims.map((claim) => {
    const lease = leases.get(claim.key) ?? { tries: 0, bucketTokens: claim.rule.capacity, leasedAt: Date.now() };
    leases.set(claim.key, lease);
    return { claim, lease };
  });
  const renewal = drawTries(
    db,
    claims,
    claims.map((claim) => leaseSizeOf(claim.rule)),
  )
    .then((rowByKey) => {
      for (const { claim, lease } of claimed) {
        const row = rowByKey.get(claim.key);
        if (row?.taken)
          Object.assign(lease, { tries: lease.tries + Number(row.granted), bucketTokens: Number(row.tokens), leasedAt: Date.now() });
      }
      return rowByKey;
    })
    .finally(() => {
      for (const { lease } of claimed) lease.renewal = undefined;
    });
  for (const { lease } of claimed) lease.renewal = renewal;
  return renewal;
}

/** Keeps the process's leases bounded; a forgotten lease's tries are lost, never added to anyone. */
function forgetOldestLeases(leases: Map<string, Lease>, keep: readonly BucketClaim[]): void {
  for (const [key, lease] of leases) {
    if (leases.size < maxBucketsPerProcess) return;
    if (!lease.renewal && !keep.some((claim) => claim.key === key)) leases.delete(key);
  }
}

function spendLeased(leases: Map<string, Lease>, claims: readonly BucketClaim[]): Allowance {
  return allowanceOf(
    claims.map((claim) => {
      const lease = leases.get(claim.key)!;
      lease.tries -= 1;
      return leasedState(claim, lease);
    }),
  );
}

/** What this process can still spend: its unspent tries plus what the shared bucket held after its lease, refilled since. */
function leasedState(claim: BucketClaim, lease: Lease): BucketState {
  const refilledSince = ((Date.now() - lease.leasedAt) / 1000) * claim.rule.perSecond;
  return bucketState(claim, true, lease.bucketTokens + refilledSince + lease.tries);
}

/** A bucket kept in memory: what it held at `updatedAt` (ms, this process's clock). */
type LocalBucket = { rule: BucketRule; tokens: number; updatedAt: number };
const localBucketsByDb = new WeakMap<Db, Map<string, LocalBucket>>();

/**
 * The buckets of a process alone with its database (PGlite, whose folder one process holds) live in
 * its memory: nobody else could draw from them, so the counts are as exact as the table's and cost
 * no statement. As the table does, a request takes a try from every bucket that has one and is
 * allowed when all had. A restart starts them full. Full buckets are forgotten (one that is missing
 * is full), so the map holds only the keys used within the time a bucket takes to fill.
 */
function takeFromMemory(db: Db, claims: readonly BucketClaim[]): Allowance {
  const buckets = localBucketsByDb.get(db) ?? new Map<string, LocalBucket>();
  localBucketsByDb.set(db, buckets);
  const now = Date.now();
  const heldNow = (bucket: LocalBucket) =>
    Math.min(bucket.rule.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * bucket.rule.perSecond);
  if (buckets.size >= maxBucketsPerProcess) {
    for (const [key, bucket] of buckets) if (heldNow(bucket) >= bucket.rule.capacity) buckets.delete(key);
  }
  return allowanceOf(
    claims.map((claim) => {
      const bucket = buckets.get(claim.key);
      const held = bucket ? heldNow(bucket) : claim.rule.capacity;
      if (held < 1) return bucketState(claim, false, held);
      buckets.set(claim.key, { rule: claim.rule, tokens: held - 1, updatedAt: now });
      return bucketState(claim, true, held - 1);
    }),
  );
}

/** The request limits from config; an absent rule is switched off. */
export type RequestLimits = { perToken: BucketRule | undefined; perAddress: BucketRule | undefined };

/**
 * Agents' requests (REST, compat API, MCP) draw from a bucket per client address and one per token.
 * The token's bucket is keyed by (part of) its hash, so limits apply before the token is looked up
 * and a flood of made-up tokens costs no lookups beyond its address's allowance.
 */
export function takeRequestAllowance(
  db: Db,
  limits: RequestLimits,
  client: { address: string; token: string | undefined },
): Promise<Allowance> {
  const claims: BucketClaim[] = [];
  if (limits.perAddress) claims.push({ policy: "address", key: `address:${client.address}`, rule: limits.perAddress });
  if (limits.perToken && client.token) {
    claims.push({ policy: "token", key: `token:${hashSecret(client.token).slice(0, 32)}`, rule: limits.perToken });
  }
  return isThisProcessAlone(db) ? Promise.resolve(takeFromMemory(db, claims)) : takeLeased(db, claims);
}

/**
 * One allowance for each of `count` tool calls that share a request (a JSON-RPC batch), taken one
 * after the other from the buckets a request of their own would draw from, so a batch of N calls
 * costs what N requests cost and a call over the limit is refused alone. Each call spends from the
 * process's leases, as a call in its own request does.
 */
export async function takeCallAllowances(
  db: Db,
  limits: RequestLimits,
  client: { address: string; token: string | undefined },
  count: number,
): Promise<Allowance[]> {
  const allowances: Allowance[] = [];
  for (let call = 0; call < count; call++) allowances.push(await takeRequestAllowance(db, limits, client));
  return allowances;
}

/** Sign-in tries: per account (whether or not it exists, so the limit reveals nothing) and per address. */
export const loginRules = {
  perAccount: { capacity: 10, perSecond: 1 / 30 },
  perAddress: { capacity: 30, perSecond: 1 / 2 },
} satisfies Record<string, BucketRule>;

/** Counts a sign-in try before the password is even checked. */
export function takeLoginAllowance(db: Db, username: string, address: string): Promise<Allowance> {
  return takeFromBuckets(db, [
    { policy: "login-account", key: `login:account:${username.trim().toLowerCase().slice(0, 200)}`, rule: loginRules.perAccount },
    { policy: "login-address", key: `login:address:${address}`, rule: loginRules.perAddress },
  ]);
}

/**
 * Account set-ups per address: a person sets up one account, so a few tries cover typos and a
 * shared office address; each try past the invite check costs a password hash.
 */
export const setupRules = {
  perAddress: { capacity: 20, perSecond: 1 / 6 },
} satisfies Record<string, BucketRule>;

/** Counts a set-up try before the invite is even looked up. */
export function takeSetupAllowance(db: Db, address: string): Promise<Allowance> {
  return takeFromBuckets(db, [{ policy: "setup-address", key: `setup:address:${address}`, rule: setupRules.perAddress }]);
}

export function rateLimitedError(allowance: Allowance, what: string): AppError {
  for (const bucket of allowance.buckets) if (!bucket.allowed) rateLimitRefusals.inc({ policy: bucket.policy });
  const wait = allowance.retryAfterSeconds;
  return new AppError("rate_limited", `${what} Wait ${wait} second${wait === 1 ? "" : "s"} and try again.`, wait);
}

/** The longest a bucket of these rules takes to fill up: a row idle that long says nothing. */
export function longestRefillSeconds(rules: readonly (BucketRule | undefined)[]): number {
  return Math.max(
    ...[...rules, ...Object.values(loginRules), ...Object.values(setupRules)].map((rule) =>
      rule ? Math.ceil(rule.capacity / rule.perSecond) : 0,
    ),
  );
}

/** Deletes buckets idle long enough to be full again; a missing row is a full bucket. */
export async function forgetFullBuckets(db: Db, idleSeconds: number): Promise<void> {
  await db.execute(sql`delete from rate_limit_buckets where updated_at < clock_timestamp() - make_interval(secs => ${idleSeconds})`);
}
