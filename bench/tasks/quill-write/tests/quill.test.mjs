import { test } from "node:test";
import assert from "node:assert/strict";
import { checksum, formatRecord } from "./quill.mjs";

test("checksum sums UTF-8 bytes modulo 256 as upper-case hex", () => {
  assert.equal(checksum("id=1"), "3B");
  assert.equal(checksum("id=é"), "76");
  assert.equal(checksum(""), "00");
});

test("canonical order and escapes", () => {
  assert.equal(formatRecord({ zeta: "z", id: "7", alpha: "a;b|c=d\\e" }), "id=7;alpha=a\\;b\\|c\\=d\\\\e;zeta=z|14");
  assert.equal(formatRecord({ id: "" }), "id=|0A");
});

test("bad records are refused", () => {
  assert.throws(() => formatRecord({ name: "x" }), TypeError);
  assert.throws(() => formatRecord({ id: "1", "Bad": "x" }), TypeError);
  assert.throws(() => formatRecord({ id: "1", "1st": "x" }), TypeError);
  assert.throws(() => formatRecord({ id: 1 }), TypeError);
});
