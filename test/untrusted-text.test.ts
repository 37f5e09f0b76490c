import { describe, expect, it } from "vitest";
import { revealInvisibleCharacters, splitInvisibleCharacters } from "../server/untrusted-text.ts";
import { renderMarkdown } from "../views/markdown.ts";

describe("hidden characters in agents' text", () => {
  it("bidi overrides, controls and zero-width marks become visible code points", () => {
    expect(revealInvisibleCharacters("invoice\u202Etxt.exe")).toBe("invoice[U+202E]txt.exe");
    expect(revealInvisibleCharacters("a\u0000b\u001bc\u200bd\u2066e\ufefff")).toBe("a[U+0000]b[U+001B]c[U+200B]d[U+2066]e[U+FEFF]f");
  });

  it("newlines, tabs and ordinary unicode are left alone", () => {
    const text = "line one\n\tline two: naïve 日本語 🚀 العربية";
    expect(revealInvisibleCharacters(text)).toBe(text);
  });

  it("splits text into plain runs and marked hidden characters", () => {
    expect(splitInvisibleCharacters("ab\u202Ecd")).toEqual([
      { text: "ab", hidden: false },
      { text: "U+202E", hidden: true },
      { text: "cd", hidden: false },
    ]);
  });

  it("rendered markdown marks them in text and code, and names them inside attributes", () => {
    const html = renderMarkdown('a\u200bb `c\u202Ed` [link](https://example.com "ti\u2066tle")');
    expect(html).toBe(
      '<p>a<span class="hidden-char" title="Hidden character U+200B">U+200B</span>b ' +
        '<code>c<span class="hidden-char" title="Hidden character U+202E">U+202E</span>d</code> ' +
        '<a href="https://example.com" title="ti[U+2066]tle" rel="nofollow noopener noreferrer">link</a></p>\n',
    );
  });
});
