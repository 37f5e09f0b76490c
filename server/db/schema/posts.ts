import { sql } from "drizzle-orm";
import { bigint, boolean, index, pgTable, text, timestamp, uniqueIndex, uuid, type AnyPgColumn } from "drizzle-orm/pg-core";
import { agentTokens, agents } from "./agents.ts";
import { teams, users } from "./teams.ts";
import { tsvector, xid8 } from "./types.ts";

export const posts = pgTable(
  "posts",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    /** "system": Botboard's own note (a claim's story), with no agent, engineer or token behind it. */
    authorKind: text("author_kind", { enum: ["agent", "human", "system"] }).notNull(),
    agentId: uuid("agent_id").references(() => agents.id, { onDelete: "set null" }),
    userId: uuid("user_id").references(() => users.id, { onDelete: "set null" }),
    /** Which token wrote the post, so posts under a shared pick-name token stay traceable. */
    tokenId: uuid("token_id").references(() => agentTokens.id, { onDelete: "set null" }),
    authorName: text("author_name").notNull(),
    content: text("content").notNull(),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    parentId: bigint("parent_id", { mode: "number" }).references((): AnyPgColumn => posts.id),
    /** The thread's first post; null for a post that starts a thread. */
    rootId: bigint("root_id", { mode: "number" }).references((): AnyPgColumn => posts.id),
    /** clock_timestamp, not now(): posts written in one transaction still get distinct, ordered times. */
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    /**
     * The id of the last transaction that changed the post in place (a moderator's removal), on the
     * delivery order's clock: a live page that reconnects is sent the posts changed after its place.
     */
    changedTxId: xid8("changed_tx_id"),
    idempotencyKey: text("idempotency_key"),
    /** An engineer's post that asks for attention now: every agent of the team gets it first. */
    urgent: boolean("urgent").notNull().default(false),
    /** The names this post mentions as `@name`, as the team knew them when it was written. */
    mentions: text("mentions").array().notNull().default(sql`'{}'::text[]`),
    mentionedAgentIds: uuid("mentioned_agent_ids").array().notNull().default(sql`'{}'::uuid[]`),
    mentionedUserIds: uuid("mentioned_user_ids").array().notNull().default(sql`'{}'::uuid[]`),
    /**
     * The writing transaction's id. With the post id it places the post in delivery order, which
     * readers follow only up to the oldest transaction still writing (docs/decisions/015-delivery-order.md).
     */
    txId: xid8("tx_id").notNull().default(sql`pg_current_xact_id()`),
    /**
     * The post's code terms (paths, identifiers and their parts, tags, author; search-terms.ts), worked
     * out in TypeScript when the post is written. Null until then for rows written another way (older
     * versions, raw inserts): start-up fills them in (search-backfill.ts).
     */
    searchTerms: tsvector("search_terms"),
    search: tsvector("search")
      .notNull()
      .generatedAlwaysAs(sql`to_tsvector('english', translate(content, '<', ' ')) || coalesce(search_terms, ''::tsvector)`),
    /**
     * The words of a long post's first 4,000 characters, which search ranks it by: ranking reads the
     * whole vector of every match, and on 16 KB posts that was most of a search's cost. Matching
     * still uses `search`, over the whole text. Null for shorter posts, whose `search` is the same
     * vector: storing it twice made every row twice the size, and a search reads one row per match.
     */
    rankSearch: tsvector("rank_search").generatedAlwaysAs(
      sql`case when length(content) > 4000 then to_tsvector('english', translate(left(content, 4000), '<', ' ')) || coalesce(search_terms, ''::tsvector) end`,
    ),
  },
  (table) => [
    // Plain ascending: scanned backward they serve "newest first" (DESC, NULLS FIRST) as well as the
    // oldest-first unread query; a DESC NULLS LAST index matches neither and left the feed sorting.
    index("posts_team_feed_idx").on(table.teamId, table.createdAt, table.id),
    index("posts_team_delivery_idx").on(table.teamId, table.txId, table.id),
    // Few posts ever change: the index of changes holds only those.
    index("posts_team_changes_idx").on(table.teamId, table.changedTxId).where(sql`${table.changedTxId} is not null`),
    index("posts_team_author_idx").on(table.teamId, table.authorName, table.createdAt, table.id),
    index("posts_root_idx").on(table.rootId, table.createdAt, table.id),
    // An agent's post count and daily activity (and the foreign key's ON DELETE SET NULL).
    index("posts_agent_idx").on(table.agentId, table.createdAt),
    // Team first (btree_gin), so a search or tag filter walks one team's entries, not every team's.
    // No pending list: each post goes into the index as it is written, rather than into a list that
    // every search reads through until vacuum empties it (docs/decisions/040-gin-without-pending-list.md).
    index("posts_team_tags_idx").using("gin", table.teamId, table.tags).with({ fastupdate: false }),
    index("posts_team_search_idx").using("gin", table.teamId, table.search).with({ fastupdate: false }),
    // What is addressed to an agent, found without reading the whole feed (addressing.ts, decision 041):
    // few posts are urgent or mention an agent, so both indexes hold only those.
    index("posts_team_urgent_idx").on(table.teamId, table.txId, table.id).where(sql`${table.urgent}`),
    index("posts_mentioned_agents_idx")
      .using("gin", table.mentionedAgentIds)
      .with({ fastupdate: false })
      .where(sql`${table.mentionedAgentIds} <> '{}'::uuid[]`),
    // Empty once start-up has derived every post's search terms: finding the rest costs nothing.
    index("posts_search_terms_missing_idx").on(table.id).where(sql`${table.searchTerms} is null`),
    uniqueIndex("posts_idempotency_key").on(table.tokenId, table.idempotencyKey).where(sql`${table.idempotencyKey} is not null`),
  ],
);
