import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { compileClaimGlob, unsupportedGlobSyntax } from "../server/domain/claim-globs.ts";

/** A fixed sequence of numbers in [0, 1): the same globs and paths on every run. */
function randomNumbers(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("matching a claimed glob", () => {
  it("matches as picomatch does (dot: true), on random globs and paths", () => {
    const random = randomNumbers(7);
    const pick = (choices: string[]) => choices[Math.floor(random() * choices.length)]!;
    const globParts = [
      "a",
      "b",
      "ab",
      "*",
      "/**/",
      "?",
      "/",
      "{a,b}",
      "{a,}",
      "{ab,b*}",
      "[ab]",
      "[!a]",
      "[a-b]",
      "[^b]",
      "x",
      ".x",
      "-",
      "{a/b,c}",
      "{a}",
    ];
    const pathParts = ["a", "b", "ab", "ba", ".", "x", ".x", "aab", "-", "[ab]", "!", "^", "[", "]"];
    let compared = 0;
    for (let round = 0; round < 3000; round++) {
      const glob = Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(globParts))
        .join("")
        .replace(/\/+/g, "/")
        .replace(/^\/|\/$/g, "");
      if (!glob || !picomatch.scan(glob).isGlob || unsupportedGlobSyntax(glob)) continue;
      const ours = compileClaimGlob(glob);
      const theirs = picomatch(glob, { dot: true });
      for (let sample = 0; sample < 10; sample++) {
        const path = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
          Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(pathParts)).join(""),
        ).join("/");
        if (path.split("/").some((segment) => segment === "." || segment === "..")) continue;
        expect(ours(path), `${glob} on ${path}`).toBe(theirs(path));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(10_000);
  });

  it("answers in linear time where picomatch's expression backtracks for hours", () => {
    const started = Date.now();
    expect(compileClaimGlob("*a*a*a*a*a*a*a*a*a*a*a*a*b")("a".repeat(4096))).toBe(false);
    expect(compileClaimGlob("**/a/**/a/**/a/**/a/**/b")(`${"a/".repeat(2047)}a`)).toBe(false);
    expect(compileClaimGlob("{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}b")("a".repeat(4096))).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("names the glob forms it does not read", () => {
    expect(unsupportedGlobSyntax("src/+(a|b).ts")).toContain("extglobs");
    expect(unsupportedGlobSyntax("src/{a,{b,c}}")).toContain("braces inside braces");
    expect(unsupportedGlobSyntax("src/{1..3}.ts")).toContain("ranges");
    expect(unsupportedGlobSyntax("src/a**")).toContain("**");
    expect(unsupportedGlobSyntax("src/[z-a].ts")).toContain("[class]");
    expect(unsupportedGlobSyntax("{a,b}/{a,b}/{a,b}/{a,b}/{a,b}/{a,b}")).toContain("alternatives");
    expect(unsupportedGlobSyntax("packages/*/src/**/*.{ts,tsx}")).toBeUndefined();
  });

  it("reads a Next.js folder's brackets and parentheses as the folder's own name too", () => {
    expect(compileClaimGlob("app/[slug]/*.tsx")("app/[slug]/page.tsx")).toBe(true);
    expect(compileClaimGlob("app/(shop)/*.tsx")("app/(shop)/page.tsx")).toBe(true);
  });
});
