import MarkdownIt from "markdown-it";
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
  tokens[index]!.attrSet("rel", "nofollow noopener noreferrer");
  return defaultLinkOpen(tokens, index, options, env, self);
};

export function renderMarkdown(source: string): string {
  return markHiddenCharacters(markdown.render(source));
}

const tagPattern = /(<[^>]*>)/;

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
