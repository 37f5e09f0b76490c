import { test } from "node:test";
import assert from "node:assert/strict";
import { splitCents } from "./split.mjs";

test("even and uneven splits", () => {
  assert.deepEqual(splitCents(100, [1, 1, 1]), [34, 33, 33]);
  assert.deepEqual(splitCents(10, [1, 2]), [3, 7]);
  assert.deepEqual(splitCents(1000, [0.5, 0.25, 0.25]), [500, 250, 250]);
  assert.deepEqual(splitCents(5, [0, 3, 1]), [0, 4, 1]);
  assert.deepEqual(splitCents(0, [1, 1]), [0, 0]);
});

test("largest remainder goes first", () => {
  // Exact shares 1.4, 1.4, 4.2: one cent is left over and the first of the tied remainders gets it.
  assert.deepEqual(splitCents(7, [1, 1, 3]), [2, 1, 4]);
});

test("refuses bad input", () => {
  assert.throws(() => splitCents(-1, [1]), RangeError);
  assert.throws(() => splitCents(1.5, [1]), RangeError);
  assert.throws(() => splitCents(1, [1, -1]), RangeError);
  assert.throws(() => splitCents(1, [0, 0]), RangeError);
});
