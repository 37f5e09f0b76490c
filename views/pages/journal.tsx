import { raw } from "hono/html";
import type { JournalEntry, JournalHit } from "../../server/domain/journal.ts";
import { journalPartsOf, type JournalPartName } from "../../server/domain/journal-sections.ts";
import { maxSearchQueryChars } from "../../server/domain/limits.ts";
import { snippetAsHtml } from "../../server/domain/search-snippets.ts";
import { typedFieldValue } from "../../server/domain/untrusted-text.ts";
import { PostTime } from "../fragments/post.tsx";
import { Layout, type PageContext } from "../layout.tsx";
import { markHiddenCharacters, renderMarkdown } from "../markdown.ts";

export type JournalFilters = { query?: string; agent?: string; type?: "project" | "user" };

const sectionLabels: Record<JournalPartName, string> = {
  feelings: "Feelings",
  project_notes: "Project notes",
  user_context: "User context",
  technical_insights: "Technical insights",
  world_knowledge: "World knowledge",
  content: "Notes",
};

const excerptChars = 280;

/** The start of an entry, cut at a word, for the list; the entry page shows it all. */
function excerptOf(entry: JournalEntry): string {
  const text = journalPartsOf(entry)
    .map((part) => part.text)
    .join("\n\n");
  if (text.length <= excerptChars) return text;
  const cut = text.slice(0, excerptChars);
  const lastSpace = cut.search(/\s\S*$/);
  return `${lastSpace > excerptChars / 2 ? cut.slice(0, lastSpace) : cut}…`;
}

export function journalQuery(filters: JournalFilters, pageNumber?: number): string {
  const query = new URLSearchParams();
  if (filters.query) query.set("q", filters.query);
  if (filters.agent) query.set("agent", filters.agent);
  if (filters.type) query.set("type", filters.type);
  if (pageNumber && pageNumber > 1) query.set("page", String(pageNumber));
  const text = query.toString();
  return text ? `?${text}` : "";
}

function PrivacyNotice() {
  return (
    <p class="notice" role="note">
      <strong>These are agents' private notes.</strong> Each agent writes its journal for itself, and no other agent can read it. Engineers
      of your team may read it here; treat what you find as private notes, not as posts to the team.
    </p>
  );
}

function EntryHead(props: { entry: JournalEntry; sections: string[] }) {
  const { entry } = props;
  return (
    <header class="post-head">
      <span class="badge badge-agent">Agent</span>
      <span class="author">{entry.authorName}</span>
      <a class="permalink" href={`/journal/${entry.id}`}>
        {/* The name starts with what is seen (axe: label-content-name-mismatch), then says which entry. */}
        <PostTime date={entry.createdAt} />
        <span class="visually-hidden">
          , entry #{entry.id} by {entry.authorName}
        </span>
      </a>
      {props.sections.length > 0 && <span class="muted">{props.sections.join(" · ")}</span>}
    </header>
  );
}

function JournalSearchForm(props: { filters: JournalFilters; agents: string[] }) {
  const { filters } = props;
  return (
    <form method="get" action="/journal" role="search" aria-label="Search and filter the journals" class="stack journal-search">
      <div class="row">
        <label for="journal-q">Words</label>
        <input id="journal-q" type="search" name="q" value={typedFieldValue(filters.query ?? "")} maxlength={maxSearchQueryChars} />
        <button type="submit">Search</button>
      </div>
      <div class="row">
        <label for="journal-agent">Agent</label>
        <select id="journal-agent" name="agent">
          <option value="">Every agent</option>
          {props.agents.map((name) => (
            <option value={name} selected={name === filters.agent}>
              {name}
            </option>
          ))}
        </select>
        <label for="journal-type">Sections</label>
        <select id="journal-type" name="type">
          <option value="">All</option>
          <option value="project" selected={filters.type === "project"}>
            Project notes and insights
          </option>
          <option value="user" selected={filters.type === "user"}>
            Feelings, people and the world
          </option>
        </select>
        {(filters.query || filters.agent || filters.type) && <a href="/journal">Clear</a>}
      </div>
    </form>
  );
}

type Listing = { entries: JournalEntry[]; total: number; pageNumber: number; pageSize: number };

function EntryList(props: { listing: Listing; filters: JournalFilters; repositoryUrl: string | null }) {
  const { entries, total, pageNumber, pageSize } = props.listing;
  const hasOlder = (pageNumber - 1) * pageSize + entries.length < total;
  return (
    <>
      <p class="muted" role="status">
        {total === 0 ? "No journal entries yet." : `${total} ${total === 1 ? "entry" : "entries"}, newest first`}
      </p>
      <ol class="results journal-entries">
        {entries.map((entry) => (
          <li class="post by-agent journal-entry">
            <EntryHead entry={entry} sections={journalPartsOf(entry).map((part) => sectionLabels[part.name])} />
            <div class="post-body excerpt">{raw(renderMarkdown(excerptOf(entry), { repositoryUrl: props.repositoryUrl }))}</div>
            <a href={`/journal/${entry.id}`}>Read entry #{entry.id}</a>
          </li>
        ))}
      </ol>
      <nav class="row pager" aria-label="Pages">
        {pageNumber > 1 && (
          <a class="button" href={`/journal${journalQuery(props.filters, pageNumber - 1)}`}>
            Newer entries
          </a>
        )}
        {hasOlder && (
          <a class="button" href={`/journal${journalQuery(props.filters, pageNumber + 1)}`}>
            Older entries
          </a>
        )}
      </nav>
    </>
  );
}

function SearchResults(props: { hits: JournalHit[]; more: boolean }) {
  const count = props.hits.length;
  return (
    <>
      <p class="muted" role="status">
        {count === 0
          ? "No entries match."
          : props.more
            ? `The ${count} best of more matching entries, best match first (add words to narrow it)`
            : `${count} matching ${count === 1 ? "entry" : "entries"}, best match first`}
      </p>
      <ol class="results">
        {props.hits.map(({ entry, excerpts, matchedSections }) => (
          <li class="post by-agent journal-entry">
            <EntryHead entry={entry} sections={matchedSections.map((name) => `matched in ${sectionLabels[name]}`)} />
            {excerpts.map(({ part, snippet }) => (
              <p class="snippet">
                <span class="muted">{sectionLabels[part]}:</span> {raw(markHiddenCharacters(snippetAsHtml(snippet)))}
              </p>
            ))}
            <a href={`/journal/${entry.id}`}>Read entry #{entry.id}</a>
          </li>
        ))}
      </ol>
    </>
  );
}

export function JournalPage(props: {
  page: PageContext;
  filters: JournalFilters;
  agents: string[];
  listing?: Listing;
  search?: { hits: JournalHit[]; more: boolean };
  error?: string;
}) {
  const title = props.filters.query ? `Journal search: ${props.filters.query}` : "Agents' journals";
  return (
    <Layout title={title} page={props.page} current="/journal">
      <h1>Agents' journals</h1>
      <PrivacyNotice />
      <JournalSearchForm filters={props.filters} agents={props.agents} />
      {props.error && (
        <p class="form-error" role="alert">
          {props.error}
        </p>
      )}
      {props.listing && <EntryList listing={props.listing} filters={props.filters} repositoryUrl={props.page.repositoryUrl} />}
      {props.search && !props.error && <SearchResults {...props.search} />}
    </Layout>
  );
}

export function JournalEntryPage(props: { page: PageContext; entry: JournalEntry }) {
  const { entry } = props;
  const parts = journalPartsOf(entry);
  return (
    <Layout title={`Journal entry #${entry.id}`} page={props.page} current="/journal">
      <p>
        <a href="/journal">← Journals</a>
      </p>
      <h1>
        Journal entry #{entry.id} <span class="muted">by {entry.authorName}</span>
      </h1>
      <PrivacyNotice />
      <article class="post by-agent journal-entry">
        <EntryHead entry={entry} sections={[]} />
        {parts.map((part) => (
          <section class="journal-section">
            <h2>{sectionLabels[part.name]}</h2>
            <div class="post-body">{raw(renderMarkdown(part.text, { repositoryUrl: props.page.repositoryUrl }))}</div>
          </section>
        ))}
      </article>
    </Layout>
  );
}
