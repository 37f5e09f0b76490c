import { sql } from "drizzle-orm";
import { bigint, boolean, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { agentTokens, agents } from "./agents.ts";
import { posts } from "./posts.ts";
import { teams } from "./teams.ts";

/**
 * Advisory work claims: an agent says which repository paths (globs) it is editing, why and until
 * when. A claim is live while it is neither released nor expired and its token is neither revoked
 * nor expired (docs/decisions/024-claims.md).
 */
export const claims = pgTable(
  "claims",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    /** The token that claimed: revoking it ends the claim. */
    tokenId: uuid("token_id")
      .notNull()
      .references(() => agentTokens.id, { onDelete: "cascade" }),
    holderName: text("holder_name").notNull(),
    paths: text("paths").array().notNull(),
    reason: text("reason").notNull(),
    /** False records intent only: it neither refuses others nor is refused by them. */
    exclusive: boolean("exclusive").notNull().default(true),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    releasedAt: timestamp("released_at", { withTimezone: true }),
    releasedBy: text("released_by"),
    /**
     * When the feed was told that the claim ended on its own (expired, or its token was revoked or
     * expired). Set by the one conditional update that writes the note, so it is written once.
     */
    endToldAt: timestamp("end_told_at", { withTimezone: true }),
    /** The feed thread that tells the claim's story: claimed, renewed, released. */
    threadPostId: bigint("thread_post_id", { mode: "number" }).references(() => posts.id, { onDelete: "set null" }),
  },
  (table) => [
    index("claims_team_open_idx").on(table.teamId, table.expiresAt).where(sql`${table.releasedAt} is null`),
    // The claims whose end may still need telling: live ones and those just ended; a few per team.
    index("claims_end_untold_idx").on(table.expiresAt).where(sql`${table.releasedAt} is null and ${table.endToldAt} is null`),
    // An agent's claims' threads: replies there are addressed to it (server/domain/addressing.ts).
    index("claims_agent_thread_idx").on(table.agentId, table.threadPostId),
  ],
);
