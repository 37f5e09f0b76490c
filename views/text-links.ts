/**
 * What in a post's plain text becomes a link, and where to: `#123` to post 123 always; with the
 * team's repository address (teams.repositoryUrl), a commit hash to `<repo>/commit/<hash>` and a
 * repository path (`server/app.ts:12`) to `<repo>/blob/HEAD/<path>#L12`. The rules, with examples
 * of what they leave alone, are in docs/decisions/030-last-visit-and-code-links.md.
 *
 * Every href is built from the characters these patterns allow (ASCII letters, digits, `_.-/#:`)
 * and the repository address the server normalized (teams.ts), so none can carry a quote or a tag.
 */

export type TextLink = { start: number; end: number; href: string; className: "post-ref" | "code-ref" };

/** `#123`, not inside a word, an entity (`&#39;`) or a path (`a/#1`). */
const postReference = String.raw`(?<![\w&#/])#(?<post>\d{1,15})\b`;

/**
 * A path inside the repository: two or more segments, the last with an extension that has a letter
 * (so `1/2.5` is a fraction), and an optional `:line` (and `:column`, which the link ignores). Not
 * after a character that would make it part of something longer: an absolute path (`/home/x.ts`),
 * `../x.ts`, a URL, `~/x.ts`, `$VAR/x.ts`.
 */
const repositoryPath = String.raw`(?<![\w/.:~@$%&=?-])(?<path>(?:\.?\w[\w.-]*/)+\.?\w[\w.-]*?\.[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*)(?::(?<line>\d{1,7})(?::\d{1,5})?)?(?![\w/-]|[.:]\w)`;

/**
 * A commit hash: 7 to 40 lower-case hex digits standing alone, not part of a word, a path, a UUID
 * (`-`), a colour (`#`), a query (`=`) or a digest (`sha256:`). Checked further by isCommitHash.
 */
const commitHash = String.raw`(?<![\w/.:#@$%&=?-])(?<hash>[0-9a-f]{7,40})(?![\w/-]|[.:]\w)`;

const withRepository = new RegExp(`${postReference}|${repositoryPath}|${commitHash}`, "g");
const withoutRepository = new RegExp(postReference, "g");
const wholePath = new RegExp(`^${repositoryPath}$`);
const wholeHash = new RegExp(`^${commitHash}$`);

/** Hex that reads as a hash: a digit and a letter (not `deadbeef`, not `1234567`), and not a number like `1e10000`. */
function isCommitHash(hex: string): boolean {
  return /\d/.test(hex) && /[a-f]/.test(hex) && !/^\d+e\d+$/.test(hex);
}

function pathHref(repositoryUrl: string, path: string, line: string | undefined): string {
  return `${repositoryUrl}/blob/HEAD/${path}${line ? `#L${line}` : ""}`;
}

/** The links in a run of plain text (never called on link text or code), in order, not overlapping. */
export function findTextLinks(text: string, repositoryUrl: string | null | undefined): TextLink[] {
  const pattern = repositoryUrl ? withRepository : withoutRepository;
  const links: TextLink[] = [];
  for (const match of text.matchAll(pattern)) {
    const { post, path, line, hash } = match.groups ?? {};
    const start = match.index;
    const end = start + match[0].length;
    if (post) links.push({ start, end, href: `/posts/${post}#post-${post}`, className: "post-ref" });
    else if (repositoryUrl && path) links.push({ start, end, href: pathHref(repositoryUrl, path, line), className: "code-ref" });
    else if (repositoryUrl && hash && isCommitHash(hash))
      links.push({ start, end, href: `${repositoryUrl}/commit/${hash}`, className: "code-ref" });
  }
  return links;
}

/** A code span that is exactly a path or a hash (`server/app.ts:12`) links as a whole; the code stays code. */
export function codeSpanHref(code: string, repositoryUrl: string | null | undefined): string | undefined {
  if (!repositoryUrl) return undefined;
  const path = wholePath.exec(code)?.groups;
  if (path?.path) return pathHref(repositoryUrl, path.path, path.line);
  const hash = wholeHash.exec(code)?.groups?.hash;
  return hash && isCommitHash(hash) ? `${repositoryUrl}/commit/${hash}` : undefined;
}
