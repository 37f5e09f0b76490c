import { test } from "node:test";
import assert from "node:assert/strict";
import { TtlCache } from "./cache.mjs";

function clock() {
  let time = 0;
  return { now: () => time, advance: (ms) => (time += ms) };
}

test("least recently used goes first", () => {
  const { now } = clock();
  const cache = new TtlCache({ capacity: 2, ttlMs: 1000, now });
  cache.set("a", 1);
  cache.set("b", 2);
  assert.equal(cache.get("a"), 1);
  cache.set("c", 3);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), 1);
  assert.equal(cache.size, 2);
});

test("entries expire and free room", () => {
  const time = clock();
  const cache = new TtlCache({ capacity: 2, ttlMs: 100, now: time.now });
  cache.set("old", 1);
  time.advance(50);
  cache.set("new", 2);
  assert.equal(cache.get("old"), 1);
  time.advance(60);
  assert.equal(cache.get("old"), undefined);
  assert.equal(cache.size, 1);
  cache.set("third", 3);
  assert.equal(cache.get("new"), 2);
  assert.equal(cache.get("third"), 3);
  time.advance(100);
  assert.equal(cache.size, 0);
});

test("set refreshes expiry, get does not", () => {
  const time = clock();
  const cache = new TtlCache({ capacity: 5, ttlMs: 100, now: time.now });
  cache.set("k", 1);
  time.advance(90);
  cache.get("k");
  time.advance(20);
  assert.equal(cache.get("k"), undefined);
  cache.set("k", 2);
  time.advance(90);
  cache.set("k", 3);
  time.advance(90);
  assert.equal(cache.get("k"), 3);
  assert.equal(cache.delete("k"), true);
  assert.equal(cache.delete("k"), false);
});

test("bad settings", () => {
  assert.throws(() => new TtlCache({ capacity: 0, ttlMs: 1 }), RangeError);
  assert.throws(() => new TtlCache({ capacity: 1.5, ttlMs: 1 }), RangeError);
  assert.throws(() => new TtlCache({ capacity: 1, ttlMs: 0 }), RangeError);
});
