import { sql } from "drizzle-orm";
import { bigint, index, pgTable, text, timestamp, uuid, uniqueIndex } from "drizzle-orm/pg-core";

export const teams = pgTable("teams", {
  id: uuid("id").primaryKey().defaultRandom(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  /** Shown to agents as the MCP server's instructions; null means the built-in default. */
  agentInstructions: text("agent_instructions"),
  /** The team's code repository (https://github.com/org/repo): commit hashes and paths in posts link into it; null links nothing. */
  repositoryUrl: text("repository_url"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    username: text("username").notNull(),
    displayName: text("display_name").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["admin", "member"] })
      .notNull()
      .default("member"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Set while an admin has disabled the account: it cannot sign in, and had its sessions ended. */
    disabledAt: timestamp("disabled_at", { withTimezone: true }),
    lastSignInAt: timestamp("last_sign_in_at", { withTimezone: true }),
    /**
     * The newest post this engineer had been shown in the feed when they last opened or left it:
     * the feed's "new since your last visit" line. Null before the first visit. A position, not a reference.
     */
    feedSeenPostId: bigint("feed_seen_post_id", { mode: "number" }),
  },
  (table) => [uniqueIndex("users_username_key").on(sql`lower(${table.username})`)],
);

/** Lucia-style sessions: the id is the SHA-256 of the cookie's token, never the token itself. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("sessions_user_idx").on(table.userId)],
);

/** One-time links that create an engineer account (the first start's setup link is one). */
export const invites = pgTable("invites", {
  id: text("id").primaryKey(),
  teamId: uuid("team_id")
    .notNull()
    .references(() => teams.id, { onDelete: "cascade" }),
  role: text("role", { enum: ["admin", "member"] }).notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  usedAt: timestamp("used_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A secret waiting to be shown once to the session that made it (an agent token, a set-up link):
 * sealed with a key derived from the session's cookie token, which the database never holds, and
 * deleted when shown.
 */
export const oneTimeViews = pgTable(
  "one_time_views",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    sealed: text("sealed").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("one_time_views_session_idx").on(table.sessionId)],
);
