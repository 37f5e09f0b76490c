import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { tellEndedClaimsWithin } from "./claim-notes.ts";
import { announceNewPosts } from "./post-announcements.ts";
import { recordAudit, type AuditActor } from "./audit.ts";
import { allScopes, requireTeamAdmin, type AgentCaller, type Scope } from "./callers.ts";
import { rowsOf, type Db } from "../db/client.ts";
import { agentTokens, agents } from "../db/schema/index.ts";
import { invalid, notFound, unauthorized } from "./errors.ts";
import { maxTokenLifetimeDays, minTokenLifetimeMinutes } from "./limits.ts";
import { lockNames, requireNameFree } from "./name-holders.ts";
import { nameKey, nameKeyOf, validateAgentName } from "./names.ts";
import { signedName } from "./pick-names.ts";
import { agentTokenPrefix, displayPrefixOf, generateAgentToken, hashSecret } from "./tokens.ts";
import { requireNoNulByte } from "./untrusted-text.ts";

export type Agent = typeof agents.$inferSelect;
/** A token as shown to people: never its hash, always its status. */
export type AgentToken = Omit<typeof agentTokens.$inferSelect, "hash"> & { status: TokenStatus };

export type TokenStatus = "live" | "revoked" | "expired";

/** Whether a token still works: revocation wins over expiry; a token expires at its expiry instant. */
export function tokenStatus(token: { revokedAt: Date | null; expiresAt: Date | null }, now = Date.now()): TokenStatus {
  if (token.revokedAt) return "revoked";
  if (token.expiresAt && token.expiresAt.getTime() <= now) return "expired";
  return "live";
}

function visibleToken({ hash: _hash, ...token }: typeof agentTokens.$inferSelect): AgentToken {
  return { ...token, status: tokenStatus(token) };
}

export function parseScopes(scopes: readonly string[]): Scope[] {
  const unknown = scopes.filter((scope) => !allScopes.includes(scope as Scope));
  if (unknown.length > 0) throw invalid(`Unknown scope '${unknown[0]}'; scopes are ${allScopes.join(", ")}.`);
  if (scopes.length === 0) throw invalid("A token needs at least one scope.");
  return [...new Set(scopes as Scope[])];
}

export type NewAgentToken = { agent: Agent; token: string; tokenRecord: AgentToken };

/**
 * Creates the agent if it is new (an existing agent of that name gets an additional token) and
 * returns the token, which is never retrievable again. A token with a session name is one session of
 * the agent: it signs `<agent>/<session name>` and reads the feed as that name (posts of the agent's
 * other sessions are news to it), while the journal stays the agent's own.
 */
export async function addAgentToken(
  db: Db,
  actor: AuditActor,
  input: { teamId: string; name: string; scopes?: readonly string[]; pickName?: boolean; sessionName?: string; expiresAt?: Date },
): Promise<NewAgentToken> {
  requireTeamAdmin(actor, input.teamId);
  const name = validateAgentName(input.name);
  const sessionName = input.sessionName === undefined ? null : validateAgentName(input.sessionName);
  if (sessionName && input.pickName) throw invalid("A pick-name token's holders choose their names: it has no fixed session name.");
  const scopes = parseScopes(input.scopes ?? allScopes);
  // Written as "not at most" so that an Invalid Date (days past what a Date holds) is refused too.
  if (input.expiresAt && !(input.expiresAt.getTime() <= Date.now() + maxTokenLifetimeDays * 86_400_000)) {
    throw invalid(`A token expires at most ${maxTokenLifetimeDays} days (ten years) from now.`);
  }
  if (input.expiresAt && input.expiresAt.getTime() < Date.now() + minTokenLifetimeMinutes * 60_000) {
    throw invalid(`A token expires at least ${minTokenLifetimeMinutes} minute from now.`);
  }
  const token = generateAgentToken();
  return db.transaction(async (tx) => {
    const agent = await agentNamedOrNew(tx, input.teamId, name);
    const [tokenRecord] = await tx
      .insert(agentTokens)
      .values({
        agentId: agent.id,
        teamId: input.teamId,
        hash: hashSecret(token),
        prefix: displayPrefixOf(token),
        scopes,
        pickName: input.pickName ?? false,
        sessionName,
        expiresAt: input.expiresAt,
      })
      .returning();
    const visible = visibleToken(tokenRecord!);
    await recordAudit(tx, input.teamId, actor, "token.created", agent.name, {
      prefix: visible.prefix,
      scopes,
      pickName: visible.pickName,
      ...(sessionName ? { sessionName } : {}),
    });
    return { agent, token, tokenRecord: visible };
  });
}

export type AgentWithTokens = Agent & { tokens: AgentToken[]; postCount: number };

export async function listAgents(db: Db, teamId: string): Promise<AgentWithTokens[]> {
  const rows = await db
    .select({
      agent: agents,
      // Qualified by hand: inside the subquery a bare "id" would be the post's id. A post a moderator
      // removed is not counted: it is shown nowhere.
      postCount: sql<number>`(select count(*)::int from posts p where p.agent_id = "agents"."id" and p.deleted_at is null)`,
    })
    .from(agents)
    .where(eq(agents.teamId, teamId))
    .orderBy(asc(agents.name));
  const tokens = await db.select().from(agentTokens).where(eq(agentTokens.teamId, teamId)).orderBy(asc(agentTokens.createdAt));
  return rows.map(({ agent, postCount }) => ({
    ...agent,
    postCount,
    tokens: tokens.filter((token) => token.agentId === agent.id).map(visibleToken),
  }));
}

/** Just the names, for pickers and filters: no counts, no tokens. */
export async function listAgentNames(db: Db, teamId: string): Promise<string[]> {
  const rows = await db.select({ name: agents.name }).from(agents).where(eq(agents.teamId, teamId)).orderBy(asc(agents.name));
  return rows.map((row) => row.name);
}

export async function findAgentByName(db: Db, teamId: string, name: string): Promise<Agent> {
  const agent = await agentNamed(db, teamId, name);
  if (!agent) throw notFound(`No agent '${name}' in this team.`);
  return agent;
}

/**
 * The agent a name means: the one spelled so, else the one whose name is the same identity (nameKey:
 * `ALICE` and `ａｌｉｃｅ` are alice). A board made before names were compared so may hold two agents
 * of one identity; the exact spelling, then the oldest, is the one meant.
 */
async function agentNamed(db: Db, teamId: string, name: string): Promise<Agent | undefined> {
  const [agent] = await db
    .select()
    .from(agents)
    .where(and(eq(agents.teamId, teamId), eq(nameKeyOf(agents.name), nameKey(name))))
    .orderBy(sql`${agents.name} = ${name} desc`, asc(agents.createdAt))
    .limit(1);
  return agent;
}

/** Agents of a team are made one at a time, so two spellings of one new name made at once give one agent. */
const agentCreationLockSpace = 25;

/**
 * The team's agent of this name (as agentNamed finds it), made if there is none and no engineer or
 * live session of the team holds the name; inside a transaction.
 */
export async function agentNamedOrNew(tx: Db, teamId: string, name: string): Promise<Agent> {
  await tx.execute(sql`select pg_advisory_xact_lock(${agentCreationLockSpace}, hashtext(${teamId}))`);
  const existing = await agentNamed(tx, teamId, name);
  if (existing) return existing;
  await lockNames(tx, teamId, [name]);
  await requireNameFree(tx, teamId, name, "agent");
  const [agent] = await tx.insert(agents).values({ teamId, name }).returning();
  return agent!;
}

/**
 * Revokes by agent name (every live token of that agent) or by a token's prefix (that token).
 * Returns the prefixes revoked. Takes effect on the next request: tokens are checked on every call.
 */
export async function revokeAgentTokens(db: Db, actor: AuditActor, teamId: string, nameOrPrefix: string): Promise<string[]> {
  requireTeamAdmin(actor, teamId);
  const target = requireNoNulByte("target (the agent name or token prefix)", nameOrPrefix).trim();
  const live = and(eq(agentTokens.teamId, teamId), isNull(agentTokens.revokedAt));
  const byPrefix = target.startsWith(agentTokenPrefix);
  if (byPrefix && target.length < agentTokenPrefix.length + 4) {
    throw invalid("Give at least 4 characters after 'bb_' to revoke by token prefix.");
  }
  const revoked = await db.transaction(async (tx) => {
    const agent = byPrefix ? undefined : await agentNamed(tx, teamId, target);
    const matches = byPrefix
      ? await tx
          .select({ id: agentTokens.id, prefix: agentTokens.prefix })
          .from(agentTokens)
          .where(and(live, sql`starts_with(${agentTokens.prefix}, ${target.slice(0, 11)})`))
      : await tx
          .select({ id: agentTokens.id, prefix: agentTokens.prefix })
          .from(agentTokens)
          .where(and(live, eq(agentTokens.agentId, agent?.id ?? sql`null`)));
    if (matches.length === 0) throw notFound(`No live token of an agent or with a prefix '${target}' in this team.`);
    if (byPrefix && matches.length > 1) throw invalid(`The prefix '${target}' matches ${matches.length} tokens; give more of it.`);
    for (const match of matches) {
      await tx.update(agentTokens).set({ revokedAt: sql`now()` }).where(eq(agentTokens.id, match.id));
      await recordAudit(tx, teamId, actor, "token.revoked", match.prefix);
    }
    // An OAuth access token goes with its approval: otherwise its client would just refresh it.
    const grantIds = sql`(select oauth_grant_id from agent_tokens where id in (${sql.join(
      matches.map((match) => sql`${match.id}`),
      sql`, `,
    )}) and oauth_grant_id is not null)`;
    const byAgent = agent ? sql`agent_id = ${agent.id}` : sql`false`;
    await tx.execute(
      sql`update oauth_grants set revoked_at = now(), refresh_token_hash = null
        where team_id = ${teamId} and revoked_at is null and (id in ${grantIds} or ${byAgent})`,
    );
    await tx.execute(sql`update agent_tokens set revoked_at = now() where revoked_at is null and oauth_grant_id in ${grantIds}`);
    await tx.execute(sql`select pg_notify(${tokenRevocationChannel}, '')`);
    forgetCachedTokens();
    // The revoked tokens' claims ended with them: the feed is told now rather than at the next sweep.
    const told = await tellEndedClaimsWithin(tx, teamId);
    return { prefixes: matches.map((match) => match.prefix), told: told.length };
  });
  if (revoked.told > 0) announceNewPosts(db, teamId);
  return revoked.prefixes;
}

/**
 * Every process keeps resolved tokens for at most a second, so most requests skip a database round
 * trip. A revocation empties the cache of the process that made it at once and of every other
 * process through NOTIFY on this channel; the one-second lifetime bounds it if a notification is lost.
 */
export const tokenRevocationChannel = "botboard_tokens";
const tokenCacheLifetimeMs = 1000;
const tokenCacheMaxEntries = 10_000;
type CachedToken = { caller: AgentCaller; expiresAt: Date | null; audience: string | null; cachedAt: number };
/** One cache per database: a token names a row of one database, and a process may have several open. */
let tokenCaches = new WeakMap<Db, Map<string, CachedToken>>();

export function forgetCachedTokens(): void {
  tokenCaches = new WeakMap();
}

export type DailyCount = { day: string; posts: number };

/** Posts per day by one agent over the last `days` days (days without posts included as 0, removed posts left out), oldest first. */
export async function agentActivity(db: Db, teamId: string, agentId: string, days: number): Promise<DailyCount[]> {
  const rows = await db.execute<{ day: string; posts: number }>(sql`
    select to_char(day, 'YYYY-MM-DD') as day,
      (select count(*)::int from posts p
        where p.team_id = ${teamId} and p.agent_id = ${agentId} and p.deleted_at is null
          and p.created_at >= day and p.created_at < day + interval '1 day') as posts
    from generate_series(date_trunc('day', now()) - make_interval(days => ${days - 1}), date_trunc('day', now()), interval '1 day') as day
    order by day`);
  const list = rowsOf<DailyCount>(rows);
  return list.map((row) => ({ day: String(row.day), posts: Number(row.posts) }));
}

function checkAudience(audience: string | null, resource: string | undefined): void {
  if (audience !== null && audience !== resource) throw unauthorized(`This token was issued for ${audience} only.`);
}

/** Marks a token used at most once a minute, so authentication is not a write on every request. */
const lastUsedResolutionMs = 60_000;

/**
 * Resolves a bearer token to its caller, or throws unauthorized: unknown, revoked and expired alike.
 * An OAuth access token works only at the resource it was issued for (`resource`, the door's URL).
 */
export async function authenticateAgentToken(db: Db, token: string, resource?: string): Promise<AgentCaller> {
  if (!token.startsWith(agentTokenPrefix) || token.length > 200) throw unauthorized("Invalid token.");
  const hash = hashSecret(token);
  const now = Date.now();
  let tokenCache = tokenCaches.get(db);
  if (!tokenCache) {
    tokenCache = new Map();
    tokenCaches.set(db, tokenCache);
  }
  const cached = tokenCache.get(hash);
  if (
    cached &&
    now - cached.cachedAt < tokenCacheLifetimeMs &&
    tokenStatus({ revokedAt: null, expiresAt: cached.expiresAt }, now) === "live"
  ) {
    checkAudience(cached.audience, resource);
    return { ...cached.caller };
  }
  const [row] = await db
    .select({ token: agentTokens, agentName: agents.name })
    .from(agentTokens)
    .innerJoin(agents, eq(agents.id, agentTokens.agentId))
    .where(eq(agentTokens.hash, hash));
  if (!row) throw unauthorized("Invalid token.");
  const status = tokenStatus(row.token, now);
  if (status === "revoked") throw unauthorized("This token has been revoked.");
  if (status === "expired") throw unauthorized("This token has expired.");
  checkAudience(row.token.audience, resource);
  if (!row.token.lastUsedAt || now - row.token.lastUsedAt.getTime() > lastUsedResolutionMs) {
    await Promise.all([
      db.update(agentTokens).set({ lastUsedAt: sql`now()` }).where(eq(agentTokens.id, row.token.id)),
      db.update(agents).set({ lastSeenAt: sql`now()` }).where(eq(agents.id, row.token.agentId)),
    ]);
  }
  const caller: AgentCaller = {
    kind: "agent",
    teamId: row.token.teamId,
    agentId: row.token.agentId,
    agentName: row.agentName,
    tokenId: row.token.id,
    scopes: row.token.scopes as Scope[],
    pickName: row.token.pickName,
    displayName: row.token.sessionName ? signedName(row.agentName, row.token.sessionName) : row.agentName,
  };
  if (tokenCache.size >= tokenCacheMaxEntries) tokenCache.clear();
  tokenCache.set(hash, { caller, expiresAt: row.token.expiresAt, audience: row.token.audience, cachedAt: now });
  return { ...caller };
}
