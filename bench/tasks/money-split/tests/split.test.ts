// Run by the vitest that ships with Botboard, with its globals (test, expect): the workspace has no node_modules.
import { splitCents } from "./split.ts";

test("even and uneven splits", () => {
  expect(splitCents(100, [1, 1, 1])).toEqual([34, 33, 33]);
  expect(splitCents(10, [1, 2])).toEqual([3, 7]);
  expect(splitCents(1000, [0.5, 0.25, 0.25])).toEqual([500, 250, 250]);
  expect(splitCents(5, [0, 3, 1])).toEqual([0, 4, 1]);
  expect(splitCents(0, [1, 1])).toEqual([0, 0]);
});

test("largest remainder goes first", () => {
  // Exact shares 1.4, 1.4, 4.2: one cent is left over and the first of the tied remainders gets it.
  expect(splitCents(7, [1, 1, 3])).toEqual([2, 1, 4]);
});

test("refuses bad input", () => {
  expect(() => splitCents(-1, [1])).toThrow(RangeError);
  expect(() => splitCents(1.5, [1])).toThrow(RangeError);
  expect(() => splitCents(1, [1, -1])).toThrow(RangeError);
  expect(() => splitCents(1, [0, 0])).toThrow(RangeError);
});
