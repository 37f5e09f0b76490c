import { createHash } from "node:crypto";
import { CancelledNotificationSchema, type JSONRPCRequest, type RequestId } from "@modelcontextprotocol/sdk/types.js";
import { sql } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { isThisProcessAlone, type Db } from "../server/db/client.ts";
import { bearerTokenOf } from "../server/http/middleware/agent-requests.ts";
import { logger } from "../server/logger.ts";

/**
 * The tool calls this process is running, so that a client's `notifications/cancelled` reaches the
 * one it names. A client that gives up on a call (its timeout) keeps the HTTP request open, posts
 * the cancellation beside it and ignores the answer that comes later. A `read_new` that answers no
 * one must hand out nothing, or its posts never reach the agent: it watches the signal its request
 * gets here, aborted by that notification or by the connection closing.
 *
 * A call is named by the token, the Mcp-Session-Id and its JSON-RPC id (ids are unique within one
 * client's session only); only the same token can name a call. The cancellation comes on a
 * connection of its own, since the call's is busy, so with `serve --workers` (or several servers on
 * one Postgres) it often reaches another process than its call's: one that finds no such call here
 * passes it on to every process by NOTIFY, once its token is checked. It may also come before its
 * call starts (the call waiting on a busy database to check its token, or its request overtaken on
 * the way): a cancellation no call took is kept a minute, and a call it names is cancelled as it starts.
 *
 * A cancellation that comes after its call has answered (a client that timed out as the answer came,
 * and ignores it) still reaches that call for a minute: its signal aborts then, and a `read_new` that
 * handed out a page gives it back (server/domain/delivery.ts `giveBack`). The process that had the
 * call says so by NOTIFY, and the others forget the copy they kept. `botboard mcp` keeps its
 * answered calls as long, to pass on such a cancellation from its stdio client (mcp/stdio.ts).
 *
 * Keys repeat (a script with no session whose ids start at 1 each run), so a cancellation reaches
 * only calls whose request came before it or within a second after it (overtaken on the way), never
 * a later run's. Each POST is stamped as it comes, before its token check; the NOTIFY carries the stamp.
 */
/**
 * `abandoned`: the signal of each call that heeds it, by JSON-RPC id; none for a request with no
 * such call (asking for the request's signal has a cost).
 */
export type RunningRequest = { abandoned: ((requestId: RequestId) => AbortSignal | undefined) | undefined; done(): void };

/** The NOTIFY channel a cancellation takes to the process running its call; server/main.ts listens on it. */
export const cancelledCallsChannel = "botboard_mcp_cancellations";

/** Every MCP door of this process shares it: a cancellation may come through any of them. */
const running = new Map<string, { cancelled: AbortController; arrivedAt: number }>();
/** When each POST came, by `arrivalStamp`, before anything it waits on. */
const arrivals = new WeakMap<Request, number>();
/** The cancellations of one POST that found no call here, until its token is checked. */
const namedElsewhere = new WeakMap<Request, { cancelledAt: number; digests: string[] }>();
/** Cancellations that came before their call, by digest: when each came (kept a minute from then). */
const cancelledEarly = new Map<string, number>();
/** Calls that have answered, by digest, each with when it came and when it answered (kept a minute from then). */
const answered = new Map<string, { cancelled: AbortController; arrivedAt: number; answeredAt: number }>();
/** How long an answered call, or a cancellation that found no call, is kept: a minute. */
export const keptMicroseconds = 60_000_000;
/** How much later than its cancellation a call's request may come and still be the call it names. */
const overtakenMicroseconds = 1_000_000;
const reaches = (callArrivedAt: number, cancelledAt: number) => callArrivedAt <= cancelledAt + overtakenMicroseconds;
/** Enough for every agent of a large team to give up on a call at once; the oldest go first. */
export const keptAtMost = 10_000;

let lastArrival = 0;
/**
 * Microseconds of the wall clock, which the processes of one machine share (across machines NTP
 * keeps them within milliseconds, while a client gives up on a call only after its timeout). Each
 * stamp is later than the one before, so that requests of one millisecond, or of a clock set back,
 * keep their order in this process.
 */
function arrivalStamp(): number {
  lastArrival = Math.max(Date.now() * 1000, lastArrival + 1);
  return lastArrival;
}

/** Kept in this process's memory only while the call runs, as the request that carries the token is. */
const keyOf = (c: Context, id: string | number) => JSON.stringify([bearerTokenOf(c) ?? "", c.req.header("mcp-session-id") ?? null, id]);
/** What a cancellation sent to other processes names: a digest of the key, so that no token goes through Postgres. */
const digestOf = (key: string) => createHash("sha256").update(key).digest("base64url");

/** The messages of a POST that may name a cancelled call; none for any other (most are not: one look at the bytes). */
async function cancellationsIn(c: Context): Promise<unknown[]> {
  // The bytes, not text: a later check refuses a body that is not UTF-8, and it reads what is kept
  // here. Looked through as bytes, so that a body that names no cancellation is not decoded twice.
  const bytes = Buffer.from(await c.req.arrayBuffer());
  if (!bytes.includes("notifications/cancelled")) return [];
  const text = bytes.toString("utf8");
  try {
    const body: unknown = JSON.parse(text);
    return Array.isArray(body) ? body : [body];
  } catch {
    return [];
  }
}

const isExpired = (keptAt: number) => keptAt + keptMicroseconds <= Date.now() * 1000;

/**
 * Makes room for one more entry once the map is full: drops the oldest, and those expired after it.
 * Entries go in as they come, so the expired ones are first, and a busy reader costs no scan.
 */
function makeRoom<T>(kept: Map<string, T>, keptAt: (entry: T) => number): void {
  if (kept.size < keptAtMost) return;
  for (const [digest, entry] of kept) {
    if (kept.size < keptAtMost && !isExpired(keptAt(entry))) return;
    kept.delete(digest);
  }
}

function keepEarlyCancellation(digest: string, cancelledAt: number): void {
  makeRoom(cancelledEarly, (keptAt) => keptAt);
  // Two cancellations of one key reach every call that came before either.
  const keptAt = Math.max(cancelledEarly.get(digest) ?? 0, cancelledAt);
  cancelledEarly.delete(digest);
  cancelledEarly.set(digest, keptAt);
}

/** True when a kept cancellation reaches a call that has come; one that came long before the call is left for an earlier call of its key. */
function takeEarlyCancellation(digest: string, arrivedAt: number): boolean {
  const cancelledAt = cancelledEarly.get(digest);
  if (cancelledAt === undefined || !reaches(arrivedAt, cancelledAt)) return false;
  cancelledEarly.delete(digest);
  return !isExpired(cancelledAt);
}

/**
 * Aborts the call of this process the digest names, running or answered within the minute, if its
 * cancellation reaches it (`reaches`); false when there is none such here.
 */
function abortCall(digest: string, cancelledAt: number): boolean {
  for (const [key, call] of running) {
    if (digestOf(key) !== digest) continue;
    if (!reaches(call.arrivedAt, cancelledAt)) return false;
    call.cancelled.abort();
    return true;
  }
  const call = answered.get(digest);
  if (!call || !reaches(call.arrivedAt, cancelledAt)) return false;
  answered.delete(digest);
  if (isExpired(call.answeredAt)) return false;
  call.cancelled.abort();
  return true;
}

/** A call that has answered, so that a cancellation coming after the answer still reaches it. */
function keepAnswered(key: string, cancelled: AbortController, arrivedAt: number): void {
  const digest = digestOf(key);
  makeRoom(answered, (call) => call.answeredAt);
  answered.delete(digest);
  answered.set(digest, { cancelled, arrivedAt, answeredAt: Date.now() * 1000 });
}

/**
 * The tools whose answer a cancellation changes: `read_new` hands a page out once, so one that no one
 * will read must hand out nothing. The others run on as before, and their calls cost nothing here.
 */
const toolsThatHeedCancellation: ReadonlySet<unknown> = new Set(["read_new"]);

/** The signal of one POST's calls, registered until `done`. */
export function startCalls(c: Context, toolCalls: JSONRPCRequest[]): RunningRequest {
  const calls = toolCalls.filter((call) => toolsThatHeedCancellation.has(call.params?.name));
  if (calls.length === 0) return { abandoned: undefined, done: () => {} };
  const connection = c.req.raw.signal;
  // A request that did not pass cancelCallsHere counts as coming now.
  const arrivedAt = arrivals.get(c.req.raw) ?? arrivalStamp();
  // One signal a call: a cancellation of one call of a batch gives back that call's page only.
  const started = calls.map((call) => ({ id: call.id, key: keyOf(c, call.id), cancelled: new AbortController() }));
  for (const { key, cancelled } of started) {
    running.set(key, { cancelled, arrivedAt });
    if (cancelledEarly.size > 0 && takeEarlyCancellation(digestOf(key), arrivedAt)) cancelled.abort();
  }
  // A listener taken off when the calls end, not AbortSignal.any, whose combined signals Node 20 keeps longer.
  const closed = () => {
    for (const { cancelled } of started) cancelled.abort();
  };
  if (connection.aborted) closed();
  else connection.addEventListener("abort", closed, { once: true });
  return {
    abandoned: (requestId) => started.find(({ id }) => id === requestId)?.cancelled.signal,
    done() {
      connection.removeEventListener("abort", closed);
      for (const { key, cancelled } of started) {
        if (running.get(key)?.cancelled !== cancelled) continue;
        running.delete(key);
        if (!cancelled.signal.aborted) keepAnswered(key, cancelled, arrivedAt);
      }
    },
  };
}

/**
 * Middleware before the token is checked, which may be what the call is waiting for (PGlite's one
 * session, above all): aborts the calls of this process that a POST's `notifications/cancelled` name.
 */
export const cancelCallsHere: MiddlewareHandler = async (c, next) => {
  if (c.req.method !== "POST") return next();
  const arrivedAt = arrivalStamp();
  arrivals.set(c.req.raw, arrivedAt);
  const digests: string[] = [];
  for (const message of await cancellationsIn(c)) {
    const notification = CancelledNotificationSchema.safeParse(message);
    if (!notification.success || notification.data.params.requestId === undefined) continue;
    const key = keyOf(c, notification.data.params.requestId);
    const call = running.get(key);
    if (call && reaches(call.arrivedAt, arrivedAt)) call.cancelled.abort();
    else digests.push(digestOf(key));
  }
  if (digests.length > 0) namedElsewhere.set(c.req.raw, { cancelledAt: arrivedAt, digests });
  await next();
};

/**
 * Middleware once the token is checked: a cancellation no call here took names a call that has
 * started or answered since, one that has yet to start (kept for it), or one of another process, to which it
 * goes by NOTIFY (not where this process has the database to itself). Only now, so that no one who
 * has no token can fill that memory or make the server write.
 */
export function cancelCallsElsewhere(db: Db): MiddlewareHandler {
  return async (c, next) => {
    const { cancelledAt, digests: named } = namedElsewhere.get(c.req.raw) ?? { cancelledAt: 0, digests: [] };
    const digests = named.filter((digest) => !abortCall(digest, cancelledAt));
    for (const digest of digests) keepEarlyCancellation(digest, cancelledAt);
    if (digests.length > 0 && !isThisProcessAlone(db)) {
      const payloads = digests.map((digest) => `${digest} ${cancelledAt}`);
      await Promise.all(payloads.map((payload) => db.execute(sql`select pg_notify(${cancelledCallsChannel}, ${payload})`))).catch(
        (error: unknown) => logger.warn({ error: String(error) }, "could not pass an MCP cancellation on to the other server processes"),
      );
    }
    await next();
  };
}

/** What the process that took a cancellation passed on by NOTIFY says, so that the others forget their copy. */
const takenMark = "taken";

/**
 * What this process hears on `cancelledCallsChannel`. A cancellation another process passed on
 * ("<digest> <its arrivalStamp>") aborts the call of this process it names, or is kept for one yet to
 * start. It counts as coming no later than now, so that a clock ahead of this one's cannot reach
 * calls that came after it (nor a payload without a stamp, from a process of an earlier version).
 * One this process takes is announced ("taken <digest>"): a copy left in the others would cancel a
 * later call of the same key coming within a second.
 */
export function hearCancellations(db: Db): (payload: string) => void {
  return (payload) => {
    const [first = "", second] = payload.split(" ");
    if (first === takenMark) {
      cancelledEarly.delete(second ?? "");
      return;
    }
    const cancelledAt = Math.min(Number(second) || Number.POSITIVE_INFINITY, arrivalStamp());
    if (!abortCall(first, cancelledAt)) {
      keepEarlyCancellation(first, cancelledAt);
      return;
    }
    db.execute(sql`select pg_notify(${cancelledCallsChannel}, ${`${takenMark} ${first}`})`).catch((error: unknown) =>
      logger.warn({ error: String(error) }, "could not tell the other server processes that an MCP cancellation was taken"),
    );
  };
}
