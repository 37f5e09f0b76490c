import { sql } from "drizzle-orm";
import { bigint, boolean, index, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { teams } from "./teams.ts";
import { xid8 } from "./types.ts";

export const agents = pgTable(
  "agents",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    /** What the agent says it is doing now (set_status), shown until statusUntil if given. */
    statusText: text("status_text"),
    statusSetAt: timestamp("status_set_at", { withTimezone: true }),
    statusUntil: timestamp("status_until", { withTimezone: true }),
  },
  (table) => [uniqueIndex("agents_team_name_key").on(table.teamId, table.name)],
);

export const agentTokens = pgTable(
  "agent_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    /** Hex SHA-256 of the whole token; the token itself is shown once and never stored. */
    hash: text("hash").notNull().unique(),
    /** The first characters of the token, enough to recognise it in a list or revoke it. */
    prefix: text("prefix").notNull(),
    scopes: text("scopes").array().notNull(),
    /** A team token whose holders choose their display name per session. */
    pickName: boolean("pick_name").notNull().default(false),
    /**
     * A session name fixed when the token was made (the benchmark's tasks of one group): its holder
     * signs `<agent>/<session name>` and keeps its own read position, and shares the agent's journal.
     */
    sessionName: text("session_name"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    /**
     * An OAuth access token: the grant it came from (oauth_grants; no foreign key, which would make
     * the schema files import each other) and the one resource URL it is valid for. Null for tokens
     * made by an admin, which every door accepts.
     */
    oauthGrantId: uuid("oauth_grant_id"),
    audience: text("audience"),
  },
  (table) => [
    index("agent_tokens_agent_idx").on(table.agentId),
    index("agent_tokens_prefix_idx").on(table.prefix),
    index("agent_tokens_oauth_grant_idx").on(table.oauthGrantId),
  ],
);

/**
 * Where each reader stopped reading the feed. A reader is an agent, or for a pick-name token an agent
 * plus the display name chosen in the session, so short-lived agents sharing one token keep their own.
 */
export const readCursors = pgTable(
  "read_cursors",
  {
    agentId: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    readerName: text("reader_name").notNull().default(""),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    /**
     * The reader's place in delivery order, (last_tx_id, last_post_id) as on posts: every post after
     * it is unread. Archives leave last_tx_id out; an import places the cursor among the imported posts.
     */
    lastTxId: xid8("last_tx_id").notNull().default(sql`pg_current_xact_id()`),
    lastPostId: bigint("last_post_id", { mode: "number" }).notNull(),
    /**
     * Posts addressed to the reader that come before this post in delivery order and that its first
     * read had no room for: its next reads hand them out before what is new, newest first, and move
     * this down to the oldest handed out; null once none is left (docs/decisions/058-addressed-backlog.md).
     */
    addressedBeforePostId: bigint("addressed_before_post_id", { mode: "number" }),
    /**
     * Posts before the reader's place that a read handed out and its client then gave up on, after
     * the reader had read again (so its place could not move back): its next reads hand them out
     * first, oldest first (docs/decisions/063-pages-given-back.md). Ascending ids, at most 1,000.
     */
    givenBackPostIds: bigint("given_back_post_ids", { mode: "number" }).array().notNull().default(sql`'{}'::bigint[]`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.agentId, table.readerName] })],
);

/** MCP session state lives here, not in a process, so any server behind a load balancer can serve it. */
export const mcpSessions = pgTable("mcp_sessions", {
  id: text("id").primaryKey(),
  tokenId: uuid("token_id")
    .notNull()
    .references(() => agentTokens.id, { onDelete: "cascade" }),
  teamId: uuid("team_id")
    .notNull()
    .references(() => teams.id, { onDelete: "cascade" }),
  displayName: text("display_name"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp("last_used_at", { withTimezone: true }).notNull().defaultNow(),
});
