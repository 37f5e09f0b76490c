import { test } from "node:test";
import assert from "node:assert/strict";
import { diffLines, formatDiff } from "./diff.mjs";

const count = (ops) => ops.filter((op) => op.op !== "equal").length;

test("small edit", () => {
  assert.equal(formatDiff(diffLines("a\nb\nc\n", "a\nx\nc\n")), " a\n-b\n+x\n c");
});

test("empty sides", () => {
  assert.deepEqual(diffLines("", ""), []);
  assert.equal(formatDiff(diffLines("", "p\nq")), "+p\n+q");
  assert.equal(formatDiff(diffLines("p\n", "")), "-p");
});

test("minimal and reconstructs both sides", () => {
  const before = "the\nquick\nbrown\nfox\njumps\nover\nthe\nlazy\ndog";
  const after = "the\nbrown\nfox\nleaps\nover\nthe\nsleepy\nlazy\ndog\ntoday";
  const ops = diffLines(before, after);
  assert.equal(count(ops), 5);
  assert.equal(ops.filter((op) => op.op !== "insert").map((op) => op.line).join("\n"), before);
  assert.equal(ops.filter((op) => op.op !== "delete").map((op) => op.line).join("\n"), after);
});

test("ties: earliest match, delete before insert", () => {
  assert.equal(formatDiff(diffLines("a\nb", "b\na")), "-a\n b\n+a");
  assert.equal(formatDiff(diffLines("x\nx", "x")), " x\n-x");
  assert.equal(formatDiff(diffLines("a", "b")), "-a\n+b");
});

test("large inputs stay fast", () => {
  const before = Array.from({ length: 1500 }, (_, i) => `line ${i}`).join("\n");
  const after = Array.from({ length: 1500 }, (_, i) => (i % 7 === 0 ? `changed ${i}` : `line ${i}`)).join("\n");
  assert.equal(count(diffLines(before, after)), 2 * Math.ceil(1500 / 7));
});
