import { sha256 } from "@oslojs/crypto/sha2";
import { constantTimeEqual } from "@oslojs/crypto/subtle";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentTokens, agents, oauthCodes, oauthGrants } from "../db/schema/index.ts";
import { agentNamedOrNew, forgetCachedTokens, parseScopes, tokenRevocationChannel } from "./agents.ts";
import { recordAudit, type AuditActor } from "./audit.ts";
import { allScopes, requireTeamAdmin, type HumanCaller, type Scope } from "./callers.ts";
import { notFound } from "./errors.ts";
import { validateAgentName } from "./names.ts";
import { OAuthRefusal, type OAuthClient } from "./oauth-clients.ts";
import { displayPrefixOf, generateAgentToken, generateSecret, hashSecret } from "./tokens.ts";

export const accessTokenLifetimeSeconds = 60 * 60;
export const refreshTokenLifetimeSeconds = 30 * 24 * 60 * 60;
export const authorizationCodeLifetimeSeconds = 120;
const refreshTokenPrefix = "bbr_";
const codePrefix = "bbc_code_";

/** The protected resource an OAuth client asks tokens for: this server's MCP endpoint. */
export function mcpResourceOf(baseUrl: string): string {
  return `${baseUrl}/mcp`;
}

/** Where a client finds the resource's metadata (RFC 9728: the well-known path with the resource's path after it). */
export function protectedResourceMetadataUrlOf(baseUrl: string): string {
  return `${baseUrl}/.well-known/oauth-protected-resource/mcp`;
}

/** OAuth scopes are the token scopes (read, write), space-separated; none asked for means both. */
export function parseOAuthScope(scope: string | undefined): Scope[] {
  const requested = (scope ?? "").split(" ").filter(Boolean);
  if (requested.length === 0) return [...allScopes];
  const unknown = requested.find((name) => !allScopes.includes(name as Scope));
  if (unknown) throw new OAuthRefusal("invalid_scope", `Unknown scope '${unknown.slice(0, 50)}'; scopes are ${allScopes.join(", ")}.`);
  return [...new Set(requested as Scope[])];
}

const codeVerifierPattern = /^[A-Za-z0-9._~-]{43,128}$/;
const codeChallengePattern = /^[A-Za-z0-9_-]{43}$/;

/** PKCE with S256 only (OAuth 2.1): the plain method would send the secret itself through the browser. */
export function checkCodeChallenge(challenge: string | undefined, method: string | undefined): string {
  if (method !== "S256") throw new OAuthRefusal("invalid_request", "code_challenge_method must be S256.");
  if (!challenge || !codeChallengePattern.test(challenge))
    throw new OAuthRefusal("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters).");
  return challenge;
}

function verifierMeetsChallenge(verifier: string, challenge: string): boolean {
  if (!codeVerifierPattern.test(verifier)) return false;
  const computed = encodeBase64urlNoPadding(sha256(new TextEncoder().encode(verifier)));
  return constantTimeEqual(new TextEncoder().encode(computed), new TextEncoder().encode(challenge));
}

/** The resource a request names must be ours; a client that names none gets ours (RFC 8707). */
export function checkResource(requested: string | undefined, ours: string): string {
  if (requested !== undefined && requested !== ours) {
    throw new OAuthRefusal("invalid_target", `This server issues tokens only for ${ours}, not for '${requested.slice(0, 200)}'.`);
  }
  return ours;
}

export type AuthorizationRequest = {
  client: OAuthClient;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scopes: Scope[];
};

export type TokenAnswer = {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
};

/**
 * An engineer approves a client: the agent (an existing one, or a new one of that name) gets a grant
 * with the scopes chosen, and the client gets a one-time code for it. Only a team admin may, as only
 * an admin may make agent tokens.
 */
export async function approveAuthorization(
  db: Db,
  caller: HumanCaller,
  request: AuthorizationRequest,
  choice: { agentName: string; scopes: readonly string[] },
): Promise<string> {
  requireTeamAdmin(caller, caller.teamId);
  const name = validateAgentName(choice.agentName);
  const scopes = parseScopes(choice.scopes);
  const code = codePrefix + generateSecret();
  await db.transaction(async (tx) => {
    const agent = await agentNamedOrNew(tx, caller.teamId, name);
    const [grant] = await tx
      .insert(oauthGrants)
      .values({
        teamId: caller.teamId,
        agentId: agent.id,
        approvedBy: caller.userId,
        clientId: request.client.clientId,
        clientName: request.client.name,
        redirectUri: request.redirectUri,
        scopes,
        resource: request.resource,
      })
      .returning({ id: oauthGrants.id });
    await tx.insert(oauthCodes).values({
      hash: hashSecret(code),
      grantId: grant!.id,
      codeChallenge: request.codeChallenge,
      expiresAt: new Date(Date.now() + authorizationCodeLifetimeSeconds * 1000),
    });
    await recordAudit(tx, caller.teamId, caller, "oauth.approved", name, {
      client: request.client.name,
      clientId: request.client.clientId,
      redirectUri: request.redirectUri,
      scopes,
    });
  });
  return code;
}

export async function recordDenial(db: Db, caller: HumanCaller, request: AuthorizationRequest): Promise<void> {
  await recordAudit(db, caller.teamId, caller, "oauth.denied", request.client.name, {
    clientId: request.client.clientId,
    redirectUri: request.redirectUri,
  });
}

type Grant = typeof oauthGrants.$inferSelect;

/** A new access token (an agent token bound to the grant's resource) and a new refresh token, which replaces the last. */
async function issueTokens(tx: Db, grant: Grant, scopes: readonly Scope[]): Promise<TokenAnswer> {
  const accessToken = generateAgentToken();
  const refreshToken = refreshTokenPrefix + generateSecret();
  await tx.insert(agentTokens).values({
    agentId: grant.agentId,
    teamId: grant.teamId,
    hash: hashSecret(accessToken),
    prefix: displayPrefixOf(accessToken),
    scopes: [...scopes],
    expiresAt: new Date(Date.now() + accessTokenLifetimeSeconds * 1000),
    oauthGrantId: grant.id,
    audience: grant.resource,
  });
  await tx
    .update(oauthGrants)
    .set({ refreshTokenHash: hashSecret(refreshToken), refreshExpiresAt: new Date(Date.now() + refreshTokenLifetimeSeconds * 1000) })
    .where(eq(oauthGrants.id, grant.id));
  return {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: accessTokenLifetimeSeconds,
    refresh_token: refreshToken,
    scope: scopes.join(" "),
  };
}

async function revokeGrantIn(tx: Db, grantId: string): Promise<void> {
  await tx
    .update(oauthGrants)
    .set({ revokedAt: sql`now()`, refreshTokenHash: null })
    .where(and(eq(oauthGrants.id, grantId), isNull(oauthGrants.revokedAt)));
  await tx
    .update(agentTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(agentTokens.oauthGrantId, grantId), isNull(agentTokens.revokedAt)));
  await tx.execute(sql`select pg_notify(${tokenRevocationChannel}, '')`);
}

/**
 * The token endpoint's authorization_code grant. A code works once, for the client and redirect URI
 * it was issued to, with the verifier of its PKCE challenge; a code presented twice was stolen or
 * replayed, so its grant is revoked (RFC 6749 section 4.1.2).
 */
export async function exchangeAuthorizationCode(
  db: Db,
  input: { code: string; clientId: string; redirectUri: string; codeVerifier: string; resource?: string },
  ourResource: string,
): Promise<TokenAnswer> {
  const answer = await db.transaction(async (tx) => {
    const [row] = await tx
      .select({ code: oauthCodes, grant: oauthGrants })
      .from(oauthCodes)
      .innerJoin(oauthGrants, eq(oauthGrants.id, oauthCodes.grantId))
      .where(eq(oauthCodes.hash, hashSecret(input.code)))
      .for("update");
    if (!row) return new OAuthRefusal("invalid_grant", "Unknown authorization code.");
    const { code, grant } = row;
    if (code.usedAt) {
      await revokeGrantIn(tx, grant.id);
      // A grant has one code, and only issueTokens sets refreshExpiresAt: without it, the first try was refused.
      if (grant.refreshExpiresAt === null) {
        return new OAuthRefusal(
          "invalid_grant",
          "This authorization code was already presented and refused (expired, or with a wrong client, redirect_uri or code_verifier), so no tokens were issued for it; authorize again.",
        );
      }
      return new OAuthRefusal("invalid_grant", "This authorization code was already used; the tokens issued for it are revoked.");
    }
    await tx.update(oauthCodes).set({ usedAt: sql`now()` }).where(eq(oauthCodes.hash, code.hash));
    if (code.expiresAt.getTime() <= Date.now())
      return new OAuthRefusal("invalid_grant", "The authorization code has expired; authorize again.");
    if (grant.revokedAt) return new OAuthRefusal("invalid_grant", "This approval has been revoked.");
    if (grant.clientId !== input.clientId) return new OAuthRefusal("invalid_grant", "The code was issued to another client.");
    if (grant.redirectUri !== input.redirectUri)
      return new OAuthRefusal("invalid_grant", "redirect_uri is not the one the code was issued for.");
    if (input.resource !== undefined && input.resource !== ourResource) {
      return new OAuthRefusal("invalid_target", `This server issues tokens only for ${ourResource}.`);
    }
    if (grant.resource !== ourResource) return new OAuthRefusal("invalid_target", `The code was issued for ${grant.resource}.`);
    if (!verifierMeetsChallenge(input.codeVerifier, code.codeChallenge)) {
      return new OAuthRefusal("invalid_grant", "code_verifier does not match the code_challenge (PKCE).");
    }
    return issueTokens(tx, grant, grant.scopes as Scope[]);
  });
  // Refusals are returned, not thrown, so the code stays spent (and a replayed grant revoked). A
  // replay revoked tokens this process may hold: they are forgotten here, not when the
  // notification comes back, which a request in between would not wait for.
  forgetCachedTokens();
  if (answer instanceof OAuthRefusal) throw answer;
  return answer;
}

/** The refresh_token grant: the refresh token is rotated, and a narrower scope may be asked for. */
export async function refreshAccessToken(
  db: Db,
  input: { refreshToken: string; clientId: string; resource?: string; scope?: string },
  ourResource: string,
): Promise<TokenAnswer> {
  checkResource(input.resource, ourResource);
  return db.transaction(async (tx) => {
    const [grant] = await tx
      .select()
      .from(oauthGrants)
      .where(
        and(
          eq(oauthGrants.refreshTokenHash, hashSecret(input.refreshToken)),
          isNull(oauthGrants.revokedAt),
          gt(oauthGrants.refreshExpiresAt, sql`now()`),
        ),
      )
      .for("update");
    if (!grant) throw new OAuthRefusal("invalid_grant", "Unknown, expired or revoked refresh token.");
    if (grant.clientId !== input.clientId) throw new OAuthRefusal("invalid_grant", "The refresh token was issued to another client.");
    if (grant.resource !== ourResource) throw new OAuthRefusal("invalid_target", `The refresh token was issued for ${grant.resource}.`);
    const granted = grant.scopes as Scope[];
    const asked = input.scope === undefined ? granted : parseOAuthScope(input.scope);
    const beyond = asked.find((scope) => !granted.includes(scope));
    if (beyond) throw new OAuthRefusal("invalid_scope", `The approval does not include '${beyond}'.`);
    return issueTokens(tx, grant, asked);
  });
}

export type OAuthConnection = {
  id: string;
  agentName: string;
  clientName: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  createdAt: Date;
};

/** The team's live approvals, for the admin page. */
export async function listOAuthConnections(db: Db, caller: HumanCaller): Promise<OAuthConnection[]> {
  requireTeamAdmin(caller, caller.teamId);
  const rows = await db
    .select({ grant: oauthGrants, agentName: agents.name })
    .from(oauthGrants)
    .innerJoin(agents, eq(agents.id, oauthGrants.agentId))
    .where(and(eq(oauthGrants.teamId, caller.teamId), isNull(oauthGrants.revokedAt)))
    .orderBy(asc(oauthGrants.createdAt));
  return rows.map(({ grant, agentName }) => ({
    id: grant.id,
    agentName,
    clientName: grant.clientName,
    clientId: grant.clientId,
    redirectUri: grant.redirectUri,
    scopes: grant.scopes,
    createdAt: grant.createdAt,
  }));
}

/** Revokes an approval: its refresh token and every access token it issued stop working on their next request. */
export async function revokeOAuthConnection(db: Db, actor: AuditActor, teamId: string, grantId: string): Promise<OAuthConnection> {
  requireTeamAdmin(actor, teamId);
  const connection = await db.transaction(async (tx) => {
    const [row] = await tx
      .select({ grant: oauthGrants, agentName: agents.name })
      .from(oauthGrants)
      .innerJoin(agents, eq(agents.id, oauthGrants.agentId))
      .where(and(eq(oauthGrants.id, grantId), eq(oauthGrants.teamId, teamId), isNull(oauthGrants.revokedAt)));
    if (!row) throw notFound("No live OAuth connection with this id in your team.");
    await revokeGrantIn(tx, grantId);
    await recordAudit(tx, teamId, actor, "oauth.revoked", row.agentName, { client: row.grant.clientName, clientId: row.grant.clientId });
    return { ...row.grant, agentName: row.agentName };
  });
  forgetCachedTokens();
  return connection;
}
