import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { deadline } from "../server/domain/deadline.ts";

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const abortedWithin = (signal: AbortSignal, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (signal.aborted) return resolve(true);
    signal.addEventListener("abort", () => resolve(true), { once: true });
    setTimeout(() => resolve(false), ms);
  });

describe("a deadline", () => {
  it("fires after a garbage collection, when combined with another signal (Node can lose AbortSignal.timeout there)", async () => {
    const stop = new AbortController();
    const { signal, expired } = deadline(200, stop.signal);
    const aborted = abortedWithin(signal, 2_000);
    // From a later task, as a busy process collects: nothing on the stack still holds the timer's signal.
    await new Promise((resolve) => setTimeout(resolve, 50));
    collectGarbage();
    expect(await aborted).toBe(true);
    expect(expired()).toBe(true);
    expect(stop.signal.aborted).toBe(false);
  });

  it("aborts as soon as the signal it follows does, without having expired; cleared, it never fires", async () => {
    const stop = new AbortController();
    const followed = deadline(60_000, stop.signal);
    stop.abort();
    expect(followed.signal.aborted).toBe(true);
    expect(followed.expired()).toBe(false);
    followed.clear();

    const cleared = deadline(50);
    cleared.clear();
    expect(await abortedWithin(cleared.signal, 300)).toBe(false);
  });
});
