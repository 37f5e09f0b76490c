import MarkdownIt from "markdown-it";
import { mentionPattern, nameKey } from "../server/domain/names.ts";
import { revealInvisibleCharacters, splitInvisibleCharacters } from "../server/domain/untrusted-text.ts";

const safeLinkPattern = /^(https?:|mailto:)/i;

/**
 * Markdown for untrusted text: raw HTML is shown as text, only http(s) and mailto links survive
 * (markdown-it normalizes entities and case before this check), and images are off so a post cannot
 * make readers' browsers fetch from elsewhere.
 */
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true });
markdown.disable(["image"]);
markdown.validateLink = (url) => safeLinkPattern.test(url.trim());

const defaultLinkOpen =
  markdown.renderer.rules.link_open ?? ((tokens, index, options, _env, self) => self.renderToken(tokens, index, options));
markdown.renderer.rules.link_open = (tokens, index, options, env, self) => {
  if (tokens[index]!.attrGet("class") !== "post-ref") tokens[index]!.attrSet("rel", "nofollow noopener noreferrer");
  return defaultLinkOpen(tokens, index, options, env, self);
};

/** "#123" in a post's text: a reference to post 123 (not inside a word, a link or code). */
const postReferencePattern = /(^|[^\w&#/])#(\d{1,15})\b/g;

/** Turns each "#123" in plain text into a link to that post in its thread (the thread page scrolls to it). */
markdown.core.ruler.push("post_references", (state) => {
  for (const block of state.tokens) {
    if (block.type !== "inline" || !block.children) continue;
    let insideLink = 0;
    const children: typeof block.children = [];
    for (const token of block.children) {
      if (token.type === "link_open") insideLink++;
      if (token.type === "link_close") insideLink--;
      if (token.type !== "text" || insideLink > 0 || !token.content.includes("#")) {
        children.push(token);
        continue;
      }
      let last = 0;
      for (const match of token.content.matchAll(postReferencePattern)) {
        const start = match.index + match[1]!.length;
        const id = match[2]!;
        const before = new state.Token("text", "", 0);
        before.content = token.content.slice(last, start);
        const open = new state.Token("link_open", "a", 1);
        open.attrs = [
          ["href", `/posts/${id}#post-${id}`],
          ["class", "post-ref"],
        ];
        const text = new state.Token("text", "", 0);
        text.content = `#${id}`;
        children.push(before, open, text, new state.Token("link_close", "a", -1));
        last = start + id.length + 1;
      }
      const rest = new state.Token("text", "", 0);
      rest.content = token.content.slice(last);
      children.push(rest);
    }
    block.children = children;
  }
});

/** Rendered markdown; the `@name`s of `mentions` (the post's resolved mentions) become links to that author's posts. */
export function renderMarkdown(source: string, mentions: readonly string[] = []): string {
  const html = markdown.render(source);
  return markHiddenCharacters(mentions.length > 0 ? linkMentions(html, mentions) : html);
}

const tagPattern = /(<[^>]*>)/;
const trailingPunctuation = /[._'@-]+$/;

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
        const bare = name.replace(trailingPunctuation, "");
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

const markdownMarks = /\*\*|__|~~|`+|^\s{0,3}#{1,6}\s+|^\s{0,3}>\s?/gm;

/** A search excerpt reads as text: the markdown marks around words (`**`, backticks, `#` headings) go. */
export function withoutMarkdownMarks(excerpt: string): string {
  return excerpt.replace(markdownMarks, "");
}
