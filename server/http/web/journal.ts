import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { listAgentNames } from "../../domain/agents.ts";
import type { Db } from "../../db/client.ts";
import { AppError } from "../../domain/errors.ts";
import { getJournalEntry, listJournalEntries, searchJournal } from "../../domain/journal.ts";
import { journalEntryIdSchema } from "../../domain/schemas.ts";
import { searchRefusalFor } from "../../domain/search-query.ts";
import { JournalEntryPage, JournalPage, type JournalFilters } from "../../../views/pages/journal.tsx";
import { emptyAsMissing, pageOf, parseWith, type WebEnv } from "./session.ts";

const entriesPerPage = 20;

const journalQuerySchema = z.object({
  q: z.preprocess(emptyAsMissing, z.string().max(1000).optional()),
  agent: z.preprocess(emptyAsMissing, z.string().max(64).optional()),
  type: z.preprocess(emptyAsMissing, z.enum(["project", "user"], { error: "type must be project or user" }).optional()),
  page: z.preprocess(
    emptyAsMissing,
    z.coerce
      .number({ error: "page must be a number" })
      .int("page must be a whole number")
      .min(1, "page must be 1 or more")
      .max(10_000, "page is too large")
      .optional(),
  ),
});

/** /journal: the team's engineers read and search their agents' private journals. */
export function journalRoutes(db: Db, engineer: MiddlewareHandler<WebEnv>) {
  const routes = new Hono<WebEnv>();

  routes.get("/journal", engineer, async (c) => {
    const caller = c.get("caller");
    const { q, page = 1, ...rest } = parseWith(journalQuerySchema, c.req.query());
    const filters: JournalFilters = { ...rest, query: q?.trim() ? q : undefined };
    const agents = await listAgentNames(db, caller.teamId);
    const shared = { page: pageOf(c), filters, agents };
    if (!filters.query) {
      const { entries, total } = await listJournalEntries(db, caller, {
        limit: entriesPerPage,
        offset: (page - 1) * entriesPerPage,
        kind: filters.type,
        agentName: filters.agent,
      });
      return c.html(JournalPage({ ...shared, listing: { entries, total, pageNumber: page, pageSize: entriesPerPage } }));
    }
    try {
      // One more than shown, to tell the reader when better words would find more.
      const { hits } = await searchJournal(db, caller, {
        query: filters.query,
        limit: entriesPerPage + 1,
        kind: filters.type,
        agentName: filters.agent,
      });
      return c.html(JournalPage({ ...shared, search: { hits: hits.slice(0, entriesPerPage), more: hits.length > entriesPerPage } }));
    } catch (error) {
      if (!(error instanceof AppError && error.kind === "invalid")) throw error;
      return c.html(JournalPage({ ...shared, search: { hits: [], more: false }, error: searchRefusalFor("page", error.message) }), 400);
    }
  });

  routes.get("/journal/:id", engineer, async (c) => {
    const id = parseWith(journalEntryIdSchema, c.req.param("id"));
    const entry = await getJournalEntry(db, c.get("caller"), id);
    return c.html(JournalEntryPage({ page: pageOf(c), entry }));
  });

  return routes;
}
