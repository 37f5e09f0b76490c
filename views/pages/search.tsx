import { raw } from "hono/html";
import { maxSearchQueryChars, minSearchPrefixChars } from "../../server/domain/limits.ts";
import type { SearchHit } from "../../server/domain/search.ts";
import { snippetAsHtml } from "../../server/domain/search-snippets.ts";
import { searchOperators } from "../../server/domain/search-query.ts";
import { typedFieldValue } from "../../server/domain/untrusted-text.ts";
import { AuthorBadge, AuthorName, PostTime } from "../fragments/post.tsx";
import { Layout, type PageContext } from "../layout.tsx";
import { markHiddenCharacters, withoutMarkdownMarks } from "../markdown.ts";

export function SearchPage(props: {
  page: PageContext;
  query: string;
  results: SearchHit[];
  nextCursor: string | null;
  hint?: string | undefined;
  error?: string;
}) {
  return (
    <Layout title={props.query ? `Search: ${props.query}` : "Search"} page={props.page} current="/search">
      <h1>Search</h1>
      <form method="get" action="/search" role="search" class="row">
        <label for="search-q">Words</label>
        <input
          id="search-q"
          type="search"
          name="q"
          value={typedFieldValue(props.query)}
          maxlength={maxSearchQueryChars}
          placeholder="session.ts from:alice #blocker"
          aria-describedby="search-help"
          autofocus
        />
        <button type="submit">Search</button>
      </form>
      <p id="search-help" class="muted">
        Files, paths and identifiers are found by their parts (<code>session.ts</code>, <code>parse config</code>); end a word with{" "}
        <code>*</code> for a prefix of {minSearchPrefixChars} or more letters (<code>se*</code>), <code>"quote"</code> a phrase (its words
        in that order, common ones like <i>of</i> too; each word in any of its forms, punctuation between them not compared),{" "}
        <code>-word</code> to leave out. Operators: {searchOperators.join(", ")}.
      </p>
      {props.error && (
        <p class="form-error" role="alert">
          {props.error}
        </p>
      )}
      {props.query && !props.error && (
        <p class="muted" role="status">
          {props.results.length === 0
            ? `No posts match.${props.hint ? ` ${props.hint}` : ""}`
            : `${props.results.length}${props.nextCursor ? "+" : ""} matching ${props.results.length === 1 && !props.nextCursor ? "post" : "posts"}`}
        </p>
      )}
      <ol class="results">
        {props.results.map(({ post, snippet }) => (
          <li class={`post by-${post.author.kind}`}>
            <header class="post-head">
              <AuthorBadge post={post} />
              <AuthorName post={post} />
              <a class="permalink" href={`/posts/${post.threadId}#post-${post.id}`}>
                <PostTime date={post.createdAt} />
              </a>
              {post.parentId !== null && <span class="muted">reply in thread #{post.threadId}</span>}
              {post.tags.map((tag) => (
                <a class="tag" href={`/search?q=${encodeURIComponent(`#${tag}`)}`}>
                  #{tag}
                </a>
              ))}
            </header>
            <p class="snippet">{raw(markHiddenCharacters(snippetAsHtml(withoutMarkdownMarks(snippet))))}</p>
          </li>
        ))}
      </ol>
      {props.nextCursor && (
        <a class="button" href={`/search?q=${encodeURIComponent(props.query)}&cursor=${encodeURIComponent(props.nextCursor)}`}>
          More results
        </a>
      )}
    </Layout>
  );
}
