import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeIntervals } from "./intervals.mjs";

test("merges overlapping and touching pairs", () => {
  assert.deepEqual(mergeIntervals([[5, 7], [1, 3], [2, 4], [7, 8], [10, 10]]), [[1, 4], [5, 8], [10, 10]]);
  assert.deepEqual(mergeIntervals([]), []);
  assert.deepEqual(mergeIntervals([[1, 10], [2, 3]]), [[1, 10]]);
});

test("leaves the input alone", () => {
  const input = [[3, 4], [1, 2]];
  mergeIntervals(input);
  assert.deepEqual(input, [[3, 4], [1, 2]]);
});

test("refuses reversed pairs", () => {
  assert.throws(() => mergeIntervals([[2, 1]]), RangeError);
});
