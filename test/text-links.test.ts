import { describe, expect, it } from "vitest";
import { normalizeRepositoryUrl } from "../server/domain/teams.ts";
import { renderMarkdown } from "../views/markdown.ts";

const repo = "https://github.com/org/repo";

/** The links a post's text gets, as [text, href] pairs. */
function linksIn(source: string, repositoryUrl: string | null = repo): [string, string][] {
  const html = renderMarkdown(source, { repositoryUrl });
  return [...html.matchAll(/<a href="([^"]*)"[^>]*>(.*?)<\/a>/g)].map((match) => [match[2]!.replace(/<\/?code>/g, ""), match[1]!]);
}

describe("commit hashes and paths in post text", () => {
  // [what, text, the links it gets]
  const table: [string, string, [string, string][]][] = [
    ["a short hash", "Fixed in 3f2a1bc.", [["3f2a1bc", `${repo}/commit/3f2a1bc`]]],
    [
      "a full hash",
      "see 0123456789abcdef0123456789abcdef01234567",
      [["0123456789abcdef0123456789abcdef01234567", `${repo}/commit/0123456789abcdef0123456789abcdef01234567`]],
    ],
    ["a hash in a code span", "`a1b2c3d`", [["a1b2c3d", `${repo}/commit/a1b2c3d`]]],
    ["a hash before a colon and a space", "a1b2c3d: the parser", [["a1b2c3d", `${repo}/commit/a1b2c3d`]]],
    ["hex that is a word", "deadbeef and cafebabe", []],
    ["hex that is a number", "1234567 and 20261201", []],
    ["a number in exponent form", "1e10000", []],
    ["six hex digits (too short)", "a1b2c3", []],
    ["41 hex digits (too long)", "0123456789abcdef0123456789abcdef012345678", []],
    ["upper-case hex (a constant, not git's output)", "A1B2C3D4", []],
    ["a UUID", "550e8400-e29b-41d4-a716-446655440000", []],
    ["a colour", "#c0ffee1 and #a1b2c3d4", []],
    ["a digest", "sha256:a1b2c3d4e5f6", []],
    ["a query value", "?sha=a1b2c3d4", []],
    ["a hash inside a word", "xa1b2c3d4 a1b2c3d4x a1b2c3d_4", []],
    ["a hash as a file name", "a1b2c3d.txt", []],
    [
      "a hash inside a linked URL",
      "https://example.com/build/a1b2c3d4",
      [["https://example.com/build/a1b2c3d4", "https://example.com/build/a1b2c3d4"]],
    ],
    ["a hash inside a markdown link", "[the fix](https://example.com/a1b2c3d4)", [["the fix", "https://example.com/a1b2c3d4"]]],
    ["a hash in a code block", "```\na1b2c3d4\n```", []],
    ["a path", "see server/app.ts", [["server/app.ts", `${repo}/blob/HEAD/server/app.ts`]]],
    ["a path and line", "server/app.ts:12.", [["server/app.ts:12", `${repo}/blob/HEAD/server/app.ts#L12`]]],
    ["a path, line and column", "views/a.tsx:12:5 broke", [["views/a.tsx:12:5", `${repo}/blob/HEAD/views/a.tsx#L12`]]],
    ["a dot-folder path", ".github/workflows/ci.yml", [[".github/workflows/ci.yml", `${repo}/blob/HEAD/.github/workflows/ci.yml`]]],
    ["a path in a code span", "`test/x.test.ts:3`", [["test/x.test.ts:3", `${repo}/blob/HEAD/test/x.test.ts#L3`]]],
    ["a path whose folder looks like a hash", "a1b2c3d/x.ts", [["a1b2c3d/x.ts", `${repo}/blob/HEAD/a1b2c3d/x.ts`]]],
    ["a code span with more than a path", "`cat server/app.ts`", []],
    ["an absolute path", "/home/ann/x.ts", []],
    ["a path above the repository", "../x/y.ts and ~/x/y.ts and $HOME/x.ts", []],
    ["a fraction", "1/2.5 and and/or", []],
    ["a file name without a folder (which folder?)", "README.md app.ts:12", []],
    ["a path inside a URL", "https://example.com/src/a.ts", [["https://example.com/src/a.ts", "https://example.com/src/a.ts"]]],
    ["a post reference still links", "see #12", [["#12", "/posts/12#post-12"]]],
  ];

  it.each(table)("%s", (_what, text, links) => {
    expect(linksIn(text)).toEqual(links);
  });

  it("without a repository set, nothing but post references links", () => {
    expect(linksIn("3f2a1bc server/app.ts:12 `a1b2c3d` #7", null)).toEqual([["#7", "/posts/7#post-7"]]);
  });

  it("hostile text around a hash or path stays text: no tag, no attribute", () => {
    const hostile = [
      'a1b2c3d"><script>alert(1)</script>',
      "a1b2c3d' onmouseover='alert(1)",
      'src/x.ts:1"><img src=x onerror=alert(1)>',
      '`a1b2c3d" onclick="alert(1)`',
      "[a1b2c3d](javascript:alert(1)) server/a.ts",
      '<a href="javascript:alert(1)">server/a.ts</a>',
      "src/&quot;x.ts a1b2c3d&#34;",
    ];
    for (const text of hostile) {
      const html = renderMarkdown(text, { repositoryUrl: repo });
      // Every tag is one of ours with only our attributes (quoted values, so nothing escapes them),
      // and every link goes to the repository or a post.
      for (const [tag] of html.matchAll(/<[^>]*>/g)) {
        expect(tag, text).toMatch(/^<\/?(p|a|code)( (href|class)="[^"<>]*")*>$/);
      }
      for (const [, href] of html.matchAll(/href="([^"]*)"/g))
        expect(href, text).toMatch(/^(https:\/\/github\.com\/org\/repo\/|\/posts\/)/);
    }
  });

  it("bare file names are not taken for domains; common domains still link", () => {
    expect(linksIn("README.md deploy.sh setup.py main.rs", null)).toEqual([]);
    expect(linksIn("example.com", null)).toEqual([["example.com", "http://example.com"]]);
  });

  it("a link shows its address as written: a punycode domain is not shown as the Unicode lookalike it stands for", () => {
    // xn--80ak6aa92e.com is аррӏе.com, in Cyrillic letters.
    const written = ["https://xn--80ak6aa92e.com/login", "<https://xn--80ak6aa92e.com>", "www.xn--80ak6aa92e.com"];
    expect(written.map((text) => linksIn(text, null))).toEqual([
      [["https://xn--80ak6aa92e.com/login", "https://xn--80ak6aa92e.com/login"]],
      [["https://xn--80ak6aa92e.com", "https://xn--80ak6aa92e.com"]],
      [["www.xn--80ak6aa92e.com", "http://www.xn--80ak6aa92e.com"]],
    ]);
    // Nor a percent-escape as a character that may look like another (U+2215, a division slash).
    expect(linksIn("https://example.com/a%E2%88%95b", null)).toEqual([
      ["https://example.com/a%E2%88%95b", "https://example.com/a%E2%88%95b"],
    ]);
  });
});

describe("the repository setting", () => {
  it.each([
    ["https://github.com/org/repo", "https://github.com/org/repo"],
    ["https://github.com/org/repo/", "https://github.com/org/repo"],
    ["https://github.com/org/repo.git", "https://github.com/org/repo"],
    ["http://git.example.com:8080/group/sub/repo", "http://git.example.com:8080/group/sub/repo"],
    ['https://github.com/org/re"po', "https://github.com/org/re%22po"],
  ])("%s is saved as %s", (input, saved) => {
    expect(normalizeRepositoryUrl(input)).toBe(saved);
  });

  it.each([
    "javascript:alert(1)",
    "JavaScript://github.com/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://example.com/repo",
    "github.com/org/repo",
    "https://github.com",
    "https://user:secret@github.com/org/repo",
    "https://github.com/org/repo?tab=1",
    "https://github.com/org/repo#readme",
    `https://github.com/${"a".repeat(600)}`,
  ])("%s is refused, naming the field", (input) => {
    expect(() => normalizeRepositoryUrl(input)).toThrow(/repositoryUrl/);
  });
});
