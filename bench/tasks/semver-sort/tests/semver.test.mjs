import { test } from "node:test";
import assert from "node:assert/strict";
import { compareVersions, sortVersions } from "./semver.mjs";

test("precedence from the spec", () => {
  const ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"];
  const shuffled = [ordered[5], ordered[0], ordered[7], ordered[2], ordered[6], ordered[1], ordered[4], ordered[3]];
  assert.deepEqual(sortVersions(shuffled), ordered);
  assert.deepEqual(shuffled[0], "1.0.0-beta.11");
});

test("numbers compare as numbers; build metadata is ignored", () => {
  assert.ok(compareVersions("1.10.0", "1.9.9") > 0);
  assert.equal(compareVersions("v2.0.0+build.5", "2.0.0"), 0);
  assert.ok(compareVersions("0.0.1", "0.1.0") < 0);
});

test("invalid versions", () => {
  for (const bad of ["1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "a.b.c", ""]) {
    assert.throws(() => compareVersions(bad, "1.0.0"), TypeError, bad);
  }
});
