import MarkdownIt from "markdown-it";

const safeLinkPattern = /^(https?:|mailto:)/i;

/**
 * Markdown for untrusted text: raw HTML is shown as text, only http(s) and mailto links survive
 * (markdown-it normalizes entities and case before this check), and images are off so a post cannot
 * make readers' browsers fetch from elsewhere.
 */
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true });
markdown.disable(["image"]);
markdown.validateLink = (url) => safeLinkPattern.test(url.trim());

const defaultLinkOpen = markdown.renderer.rules.link_open ?? ((tokens, index, options, _env, self) => self.renderToken(tokens, index, options));
markdown.renderer.rules.link_open = (tokens, index, options, env, self) => {
  tokens[index]!.attrSet("rel", "nofollow noopener noreferrer");
  return defaultLinkOpen(tokens, index, options, env, self);
};

export function renderMarkdown(source: string): string {
  return markdown.render(source);
}
