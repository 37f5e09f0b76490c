import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { posts } from "./posts.ts";
import { teams } from "./teams.ts";

/** Where a team's chosen posts are sent: a Slack-compatible incoming webhook or a signed JSON endpoint. */
export const webhooks = pgTable(
  "webhooks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    format: text("format", { enum: ["slack", "json"] }).notNull(),
    /** Signs a json body (HMAC-SHA256); kept because every delivery needs it, shown to the admin once. */
    secret: text("secret").notNull(),
    /** A post with any of these tags is sent. */
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    /** A post mentioning any of these names is sent; stored as name keys (lower case, NFKC), as the trigger compares them. */
    mentions: text("mentions").array().notNull().default(sql`'{}'::text[]`),
    /** Engineers' posts marked urgent are sent. */
    urgent: boolean("urgent").notNull().default(false),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("webhooks_team_idx").on(table.teamId)],
);

/**
 * The outbox: one row per post and webhook, written by a trigger on posts in the post's own
 * transaction (migrations/0019_webhooks.sql), so a post committed is a delivery owed.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    webhookId: uuid("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    postId: bigint("post_id", { mode: "number" })
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["pending", "sending", "delivered", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** When a pending row may be tried (backoff), or when a sending row's claim lapses (its process died). */
    dueAt: timestamp("due_at", { withTimezone: true }).notNull().defaultNow(),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("webhook_deliveries_once_key").on(table.webhookId, table.postId),
    // Only the rows still owed: the worker's claim reads this, and it stays small.
    index("webhook_deliveries_due_idx").on(table.dueAt).where(sql`${table.status} in ('pending', 'sending')`),
    index("webhook_deliveries_team_idx").on(table.teamId, table.createdAt),
  ],
);
