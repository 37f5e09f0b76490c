import { index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { agents } from "./agents.ts";
import { teams, users } from "./teams.ts";

/** Clients that registered themselves (RFC 7591); clients named by a metadata document URL are not stored. */
export const oauthClients = pgTable("oauth_clients", {
  clientId: text("client_id").primaryKey(),
  name: text("name").notNull(),
  redirectUris: text("redirect_uris").array().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * An engineer's approval of one OAuth client for one agent identity and its scopes. Its access
 * tokens are agent tokens (agent_tokens.oauth_grant_id); its refresh token is rotated on every use,
 * so only the newest one's hash is kept.
 */
export const oauthGrants = pgTable(
  "oauth_grants",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    approvedBy: uuid("approved_by").references(() => users.id, { onDelete: "set null" }),
    clientId: text("client_id").notNull(),
    clientName: text("client_name").notNull(),
    redirectUri: text("redirect_uri").notNull(),
    scopes: text("scopes").array().notNull(),
    /** The protected resource (this server's /mcp URL) every token of the grant is bound to. */
    resource: text("resource").notNull(),
    refreshTokenHash: text("refresh_token_hash").unique(),
    refreshExpiresAt: timestamp("refresh_expires_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (table) => [index("oauth_grants_team_idx").on(table.teamId)],
);

/** Authorization codes: single use, short-lived, stored hashed, with the PKCE challenge they must meet. */
export const oauthCodes = pgTable("oauth_codes", {
  hash: text("hash").primaryKey(),
  grantId: uuid("grant_id")
    .notNull()
    .references(() => oauthGrants.id, { onDelete: "cascade" }),
  codeChallenge: text("code_challenge").notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  usedAt: timestamp("used_at", { withTimezone: true }),
});
