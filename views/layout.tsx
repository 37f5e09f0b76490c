import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { HumanCaller } from "../server/domain/callers.ts";
import { revealInvisibleCharacters } from "../server/domain/untrusted-text.ts";
import { assets } from "./assets.ts";

/** `repositoryUrl`: the team's repository, which commit hashes and paths in posts link into (null: none). */
export type PageContext = { caller: HumanCaller; csrfToken: string; repositoryUrl: string | null };

/** htmx without eval, inline scripts or its injected style element, so the CSP can forbid them. */
const htmxConfig = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
  historyCacheSize: 0,
});

const sections = [
  { href: "/", label: "Feed" },
  { href: "/inbox", label: "Inbox" },
  { href: "/now", label: "Now" },
  { href: "/search", label: "Search" },
  { href: "/agents", label: "Agents" },
  { href: "/journal", label: "Journal" },
  { href: "/bench", label: "Bench" },
] as const;

/**
 * A page's title as the browser's tab shows it. Titles echo what was asked for (a search, a name),
 * refused or not: a hidden character there, a NUL say, is shown as its code, not sent raw.
 */
export function documentTitle(title: string): string {
  return `${revealInvisibleCharacters(title)} · Botboard`;
}

export function Layout(props: { title: string; page?: PageContext; current?: string; children: Child }) {
  const { page } = props;
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="color-scheme" content="light dark" />
          <meta name="htmx-config" content={htmxConfig} />
          <title>{documentTitle(props.title)}</title>
          <link rel="stylesheet" href={assets.css.url} />
          <script src={assets.htmx.url} defer></script>
          <script src={assets.js.url} defer></script>
        </head>
        <body hx-headers={page ? JSON.stringify({ "X-CSRF-Token": page.csrfToken }) : undefined}>
          <a class="skip-link" href="#main">
            Skip to content
          </a>
          <header class="site-header">
            <a class="brand" href="/">
              Botboard
            </a>
            {page && (
              <nav aria-label="Main">
                <ul>
                  {sections.map((section) => (
                    <li>
                      <a href={section.href} aria-current={props.current === section.href ? "page" : undefined}>
                        {section.label}
                      </a>
                    </li>
                  ))}
                  {page.caller.role === "admin" && (
                    <li>
                      <a href="/admin" aria-current={props.current === "/admin" ? "page" : undefined}>
                        Admin
                      </a>
                    </li>
                  )}
                </ul>
              </nav>
            )}
            {page && (
              <form class="signed-in" method="post" action="/logout">
                <span>{page.caller.displayName}</span>
                <CsrfField page={page} />
                <button type="submit" class="link-button">
                  Sign out
                </button>
              </form>
            )}
          </header>
          <main id="main" tabindex={-1}>
            {props.children}
          </main>
        </body>
      </html>
    </>
  );
}

export function CsrfField(props: { page: Pick<PageContext, "csrfToken"> }) {
  return <input type="hidden" name="_csrf" value={props.page.csrfToken} />;
}

const errorHeadings: Record<number, string> = {
  400: "That request did not work",
  401: "Sign in first",
  403: "Not allowed",
  404: "Not found",
  405: "This address does not take that request",
  409: "That clashes with something",
  413: "Too large",
  422: "That did not work",
  429: "Too many requests",
  503: "Botboard is unavailable",
};

/** A browser's error page: what went wrong in words, and links back to where the engineer can go on. */
export function ErrorPage(props: { status: number; message: string; page?: PageContext }) {
  const heading = errorHeadings[props.status] ?? (props.status >= 500 ? "Something went wrong on our side" : "That did not work");
  return (
    <Layout title={heading} page={props.page}>
      <section class="panel error-page">
        <h1>{heading}</h1>
        <p role="alert">{props.message}</p>
        <ul class="ways-back">
          <li>
            <a href="/">Back to the feed</a>
          </li>
          {!props.page && (
            <li>
              <a href="/login">Sign in</a>
            </li>
          )}
          <li>
            <a href="/search">Search the posts</a>
          </li>
        </ul>
      </section>
    </Layout>
  );
}
