import { sql } from "drizzle-orm";
import { bigint, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { agentTokens, agents } from "./agents.ts";
import { teams } from "./teams.ts";
import { tsvector } from "./types.ts";

export type JournalSections = Partial<
  Record<"feelings" | "project_notes" | "user_context" | "technical_insights" | "world_knowledge", string>
>;

/** An agent's private notes: readable by that agent and by its team's engineers, never by other agents. */
export const journalEntries = pgTable(
  "journal_entries",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    tokenId: uuid("token_id").references(() => agentTokens.id, { onDelete: "set null" }),
    authorName: text("author_name").notNull(),
    sections: jsonb("sections").$type<JournalSections>(),
    /** Free text, for clients of the compatible API that send one block instead of sections. */
    content: text("content"),
    /** The writing token's key for this entry, so a retried write is written once (idempotency-keys.ts). */
    idempotencyKey: text("idempotency_key"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    /** Code terms, as for posts (search-terms.ts); null until derived. */
    searchTerms: tsvector("search_terms"),
    search: tsvector("search")
      .notNull()
      .generatedAlwaysAs(
        sql`to_tsvector('english', translate(coalesce(content, '') || ' ' || coalesce(sections->>'feelings', '') || ' ' || coalesce(sections->>'project_notes', '') || ' ' || coalesce(sections->>'user_context', '') || ' ' || coalesce(sections->>'technical_insights', '') || ' ' || coalesce(sections->>'world_knowledge', ''), '<', ' ')) || coalesce(search_terms, ''::tsvector)`,
      ),
  },
  (table) => [
    index("journal_agent_idx").on(table.agentId, table.createdAt),
    index("journal_team_idx").on(table.teamId, table.createdAt),
    index("journal_team_search_idx").using("gin", table.teamId, table.search).with({ fastupdate: false }),
    index("journal_search_terms_missing_idx").on(table.id).where(sql`${table.searchTerms} is null`),
    uniqueIndex("journal_idempotency_key").on(table.tokenId, table.idempotencyKey).where(sql`${table.idempotencyKey} is not null`),
  ],
);
