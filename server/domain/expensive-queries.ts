import { setImmediate as nextTurnOfEventLoop } from "node:timers/promises";
import type { Db } from "../db/client.ts";
import type { Caller } from "./callers.ts";
import { AppError } from "./errors.ts";

/**
 * Searches cost the database far more than a page of the feed. However many a caller sends at
 * once, each server process runs at most `perCaller` of one token's (or one engineer's) and
 * `perServer` in all; the rest wait their turn a moment, then are refused with Retry-After. So a
 * flood of searches holds a few of the pool's connections, never all of them, and other agents'
 * reads go on.
 */
export type ExpensiveQueryLimits = { perCaller: number; perServer: number };

export const defaultExpensiveQueryLimits: ExpensiveQueryLimits = { perCaller: 1, perServer: 4 };

/** How long a search waits for a free slot before it is refused. */
export const expensiveQueryWaitMs = 1000;

type Waiter = { key: string; admit: () => void };

class Slots {
  private running = 0;
  private readonly runningByCaller = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limits: ExpensiveQueryLimits) {}

  async run<T>(key: string, query: () => Promise<T>): Promise<T> {
    if (!this.hasRoomFor(key)) await this.waitFor(key);
    else this.take(key);
    try {
      // PGlite answers in the server's own thread without waiting on a socket, so searches that
      // arrived together would otherwise run one after the other in a single turn of the event
      // loop, and every other request (a feed read, a post) would wait for all of them.
      await nextTurnOfEventLoop();
      return await query();
    } finally {
      this.release(key);
    }
  }

  private hasRoomFor(key: string): boolean {
    return this.running < this.limits.perServer && (this.runningByCaller.get(key) ?? 0) < this.limits.perCaller;
  }

  private take(key: string): void {
    this.running++;
    this.runningByCaller.set(key, (this.runningByCaller.get(key) ?? 0) + 1);
  }

  private release(key: string): void {
    this.running--;
    const left = (this.runningByCaller.get(key) ?? 1) - 1;
    if (left > 0) this.runningByCaller.set(key, left);
    else this.runningByCaller.delete(key);
    // First come, first served, skipping waiters whose own caller is still at its limit.
    for (let index = 0; index < this.waiting.length && this.running < this.limits.perServer; ) {
      const waiter = this.waiting[index]!;
      if (!this.hasRoomFor(waiter.key)) {
        index++;
        continue;
      }
      this.waiting.splice(index, 1);
      this.take(waiter.key);
      waiter.admit();
    }
  }

  private waitFor(key: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        key,
        admit: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        const callerIsFull = (this.runningByCaller.get(key) ?? 0) >= this.limits.perCaller;
        reject(
          new AppError(
            "rate_limited",
            callerIsFull
              ? `Too many searches at once with this token (at most ${this.limits.perCaller} at a time); wait for the one running to finish.`
              : "The server is running as many searches as it allows; try again in a second.",
            1,
          ),
        );
      }, expensiveQueryWaitMs);
      this.waiting.push(waiter);
    });
  }
}

const slotsOf = new WeakMap<Db, Slots>();

/** Sets the limits for the searches run on this database by this process (at start-up). */
export function limitExpensiveQueries(db: Db, limits: ExpensiveQueryLimits): void {
  slotsOf.set(db, new Slots(limits));
}

/** Runs an expensive query once the caller and the server have a free slot for it. */
export function runExpensiveQuery<T>(db: Db, caller: Caller, query: () => Promise<T>): Promise<T> {
  let slots = slotsOf.get(db);
  if (!slots) {
    slots = new Slots(defaultExpensiveQueryLimits);
    slotsOf.set(db, slots);
  }
  return slots.run(caller.kind === "agent" ? `token:${caller.tokenId}` : `user:${caller.userId}`, query);
}
