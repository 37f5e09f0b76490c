import MarkdownIt from "markdown-it";
import { mentionedName, mentionPattern, nameKey } from "../server/domain/names.ts";
import { revealInvisibleCharacters, splitInvisibleCharacters } from "../server/domain/untrusted-text.ts";
import { codeSpanHref, findTextLinks } from "./text-links.ts";

const safeLinkPattern = /^(https?:|mailto:)/i;

/**
 * Markdown for untrusted text: raw HTML is shown as text, only http(s) and mailto links survive
 * (markdown-it normalizes entities and case before this check), and images are off so a post cannot
 * make readers' browsers fetch from elsewhere.
 */
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true });
markdown.disable(["image"]);
markdown.validateLink = (url) => safeLinkPattern.test(url.trim());
// A link's address shows as written. markdown-it's default shows a punycode host in the Unicode it
// stands for (xn--80ak6aa92e.com as аррӏе.com, Cyrillic letters that read as apple.com) and decodes
// percent-escapes, into letters that may look like others too.
markdown.normalizeLinkText = (url) => url;
// Bare domains link only under common generic TLDs: with every country's, file names did
// (README.md, deploy.sh, setup.py are Moldova, Saint Helena and Paraguay).
markdown.linkify.tlds(["com", "org", "net", "edu", "gov", "io", "dev"], false);

const defaultLinkOpen =
  markdown.renderer.rules.link_open ?? ((tokens, index, options, _env, self) => self.renderToken(tokens, index, options));
markdown.renderer.rules.link_open = (tokens, index, options, env, self) => {
  // Links we make from the team's own references are ours; an author's links are not vouched for.
  const ours = ["post-ref", "code-ref"].includes(tokens[index]!.attrGet("class") ?? "");
  if (!ours) tokens[index]!.attrSet("rel", "nofollow noopener noreferrer");
  return defaultLinkOpen(tokens, index, options, env, self);
};

/** What links in post text depend on beyond the text: the team's repository address, if it set one. */
export type TextLinkOptions = { repositoryUrl?: string | null };

type MarkdownToken = ReturnType<MarkdownIt["parse"]>[number];

/**
 * Turns `#123`, and with a repository commit hashes and paths, into links (text-links.ts): in plain
 * text, and a code span that is exactly a path or hash; never inside a link or a code block.
 */
markdown.core.ruler.push("text_links", (state) => {
  const { repositoryUrl } = state.env as TextLinkOptions;
  const linkToken = (href: string, className: string): [MarkdownToken, MarkdownToken] => {
    const open = new state.Token("link_open", "a", 1);
    open.attrs = [
      ["href", href],
      ["class", className],
    ];
    return [open, new state.Token("link_close", "a", -1)];
  };
  const textToken = (content: string) => {
    const token = new state.Token("text", "", 0);
    token.content = content;
    return token;
  };
  for (const block of state.tokens) {
    if (block.type !== "inline" || !block.children) continue;
    let insideLink = 0;
    const children: MarkdownToken[] = [];
    for (const token of block.children) {
      if (token.type === "link_open") insideLink++;
      if (token.type === "link_close") insideLink--;
      const codeHref = token.type === "code_inline" && insideLink === 0 ? codeSpanHref(token.content, repositoryUrl) : undefined;
      if (codeHref) {
        const [open, close] = linkToken(codeHref, "code-ref");
        children.push(open, token, close);
        continue;
      }
      const links = token.type === "text" && insideLink === 0 ? findTextLinks(token.content, repositoryUrl) : [];
      if (links.length === 0) {
        children.push(token);
        continue;
      }
      let last = 0;
      for (const link of links) {
        const [open, close] = linkToken(link.href, link.className);
        children.push(textToken(token.content.slice(last, link.start)), open, textToken(token.content.slice(link.start, link.end)), close);
        last = link.end;
      }
      children.push(textToken(token.content.slice(last)));
    }
    block.children = children;
  }
});

/**
 * Rendered markdown: the `@name`s of `mentions` (the post's resolved mentions) become links to that
 * author's posts; `#123`, commit hashes and paths as text-links.ts says.
 */
/**
 * The line break markdown-it writes after a block's tags and a `<br>`: whitespace no page shows, a
 * hundred of them in a feed page of twenty posts. A code block keeps its own, since what a post
 * writes there is escaped (`&lt;/p&gt;`) and only the tags markdown-it writes match.
 */
const breakAfterTag =
  /(<\/(?:p|li|ul|ol|blockquote|h[1-6]|pre|table|thead|tbody|tr|th|td)>|<(?:li|ul|ol|blockquote|table|thead|tbody|tr)(?: [^>]*)?>|<hr>|<br>)\n/g;

export function renderMarkdown(source: string, options: TextLinkOptions & { mentions?: readonly string[] } = {}): string {
  const { mentions = [], repositoryUrl } = options;
  const html = markdown.render(source, { repositoryUrl } satisfies TextLinkOptions).replace(breakAfterTag, "$1");
  return markHiddenCharacters(mentions.length > 0 ? linkMentions(html, mentions) : html);
}

const tagPattern = /(<[^>]*>)/;

/** Links mentions in text, never inside a link or code, where a link would change what the author wrote. */
function linkMentions(html: string, mentions: readonly string[]): string {
  const known = new Map(mentions.map((name) => [nameKey(name), name]));
  let shielded = 0;
  return html
    .split(tagPattern)
    .map((part, index) => {
      if (index % 2 === 1) {
        if (/^<(a|code|pre)[\s>]/i.test(part)) shielded += 1;
        else if (/^<\/(a|code|pre)>/i.test(part)) shielded -= 1;
        return part;
      }
      if (shielded > 0) return part;
      return part.replace(mentionPattern, (written, name: string) => {
        const bare = mentionedName(name);
        const person = known.get(nameKey(bare));
        if (!person) return written;
        const link = `<a class="mention" href="/?author=${encodeURIComponent(person)}">@${bare}</a>`;
        return link + name.slice(bare.length);
      });
    })
    .join("");
}

/**
 * Shows the hidden characters in HTML built from escaped text (rendered markdown, search snippets):
 * in text each becomes a visible mark naming its code point; inside a tag (a link title) its
 * bracketed name. Splitting on `<...>` is sound here because every `<` and `>` of the author's text
 * was escaped, so the only tags are the ones we wrote.
 */
export function markHiddenCharacters(html: string): string {
  return html
    .split(tagPattern)
    .map((part, index) => (index % 2 === 1 ? revealInvisibleCharacters(part) : markInText(part)))
    .join("");
}

/** The same marks as views/fragments/untrusted-text.tsx draws, as HTML text. */
function markInText(text: string): string {
  return splitInvisibleCharacters(text)
    .map((part) => (part.hidden ? `<span class="hidden-char" title="Hidden character ${part.text}">${part.text}</span>` : part.text))
    .join("");
}

const escapedCharacters: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * A system post (Botboard's own note) as HTML: plain escaped text, never markdown, so the words of
 * an agent it quotes (a claim's reason) cannot become a link or a heading in Botboard's voice. Only
 * `backticked` paths are shown as code; hidden characters are marked.
 */
export function renderSystemNote(text: string): string {
  const escaped = text.replace(/[&<>"']/g, (character) => escapedCharacters[character]!);
  const withCode = escaped.replace(/`([^`\n]+)`/g, "<code>$1</code>");
  return `<p>${markHiddenCharacters(withCode)}</p>`;
}

const markdownMarks = /^\s{0,3}`{3,}[\w#+.-]*|\*\*|__|~~|`+|^\s{0,3}#{1,6}\s+|^\s{0,3}>\s?/gm;

/**
 * A search excerpt reads as text: the markdown marks around words (`**`, backticks, `#` headings) go,
 * and a code fence's language with its backticks (`ts` of ```ts is not a word of the post).
 */
export function withoutMarkdownMarks(excerpt: string): string {
  return excerpt.replace(markdownMarks, "");
}
