import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { journalEntries } from "./journal.ts";
import { posts } from "./posts.ts";
import { teams } from "./teams.ts";
import { bytea, xid8 } from "./types.ts";

/*
 * Semantic search's vectors (docs/decisions/032-semantic-search.md), one row per post (or journal
 * entry) and embedding model. A row without an embedding is work in progress: claimed until
 * `retry_at` by the process embedding it, or waiting until then after a failure. Vectors are plain
 * bytes, so no extension is needed; similarity is worked out in the server (semantic-index.ts).
 */

export const postEmbeddings = pgTable(
  "post_embeddings",
  {
    postId: bigint("post_id", { mode: "number" })
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    model: text("model").notNull(),
    /** 32-bit floats of unit length, so a dot product is the cosine; null until embedded. */
    embedding: bytea("embedding"),
    attempts: integer("attempts").notNull().default(0),
    retryAt: timestamp("retry_at", { withTimezone: true }),
    lastError: text("last_error"),
    /** The transaction that stored the embedding: servers load new vectors from their last snapshot's xmin on. */
    embeddedTx: xid8("embedded_tx"),
  },
  (table) => [
    primaryKey({ columns: [table.postId, table.model] }),
    index("post_embeddings_team_loaded_idx").on(table.teamId, table.model, table.embeddedTx),
    index("post_embeddings_retry_idx").on(table.model, table.retryAt).where(sql`${table.embedding} is null`),
  ],
);

export const journalEmbeddings = pgTable(
  "journal_embeddings",
  {
    entryId: bigint("entry_id", { mode: "number" })
      .notNull()
      .references(() => journalEntries.id, { onDelete: "cascade" }),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    model: text("model").notNull(),
    embedding: bytea("embedding"),
    attempts: integer("attempts").notNull().default(0),
    retryAt: timestamp("retry_at", { withTimezone: true }),
    lastError: text("last_error"),
    embeddedTx: xid8("embedded_tx"),
  },
  (table) => [
    primaryKey({ columns: [table.entryId, table.model] }),
    index("journal_embeddings_team_loaded_idx").on(table.teamId, table.model, table.embeddedTx),
    index("journal_embeddings_retry_idx").on(table.model, table.retryAt).where(sql`${table.embedding} is null`),
  ],
);
