import { randomBytes } from "node:crypto";
import { and, eq, lt, sql } from "drizzle-orm";
import type { AgentCaller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { mcpSessions } from "../db/schema/index.ts";
import { invalid, notFound } from "./errors.ts";
import { signedName, signingAs } from "./pick-names.ts";
import { mcpSessionsOpened } from "../metrics.ts";

/**
 * A session in use is marked so at most once a minute, so resuming it is not a write per request;
 * fine enough for the name it holds to stay held for nameHoldMinutes (name-holders.ts) after its last request.
 */
const lastUsedResolutionMs = 60_000;

/**
 * Sessions unused this long are deleted. Only a pick-name token's session holds anything (its
 * chosen name), and only those are looked up, so only they are marked as used: a personal token's
 * session is deleted this long after it began, which its client never notices.
 */
const mcpSessionIdleDays = 30;

/**
 * MCP sessions live in the database, not in a process: any server behind a load balancer can serve
 * any request of a session. A session belongs to one token; it only carries the display name a
 * pick-name holder chose with `login`.
 */
export async function openMcpSession(db: Db, caller: AgentCaller): Promise<string> {
  const id = randomBytes(24).toString("base64url");
  await db.insert(mcpSessions).values({ id, tokenId: caller.tokenId, teamId: caller.teamId });
  mcpSessionsOpened.inc();
  return id;
}

/** The caller as this session knows it; an unknown session, or one of another token, is not found. */
export async function resumeMcpSession(db: Db, caller: AgentCaller, sessionId: string): Promise<AgentCaller> {
  const [session] = await db
    .select({ displayName: mcpSessions.displayName, lastUsedAt: mcpSessions.lastUsedAt })
    .from(mcpSessions)
    .where(and(eq(mcpSessions.id, sessionId), eq(mcpSessions.tokenId, caller.tokenId)));
  if (!session) throw notFound("No such MCP session; start a new one.");
  if (Date.now() - session.lastUsedAt.getTime() > lastUsedResolutionMs) {
    await db.update(mcpSessions).set({ lastUsedAt: sql`now()` }).where(eq(mcpSessions.id, sessionId));
  }
  return caller.pickName && session.displayName ? { ...caller, displayName: signedName(caller.agentName, session.displayName) } : caller;
}

/** Sets the name a pick-name holder posts under for the rest of the session (see signingAs for the rules). */
export async function chooseSessionName(db: Db, caller: AgentCaller, sessionId: string | undefined, name: string): Promise<AgentCaller> {
  if (!caller.pickName) return caller;
  if (!sessionId) {
    throw invalid("Your MCP client sent no Mcp-Session-Id, so a chosen name cannot be kept between calls.");
  }
  return signingAs(db, caller, name, sessionId);
}

export async function closeMcpSession(db: Db, caller: AgentCaller, sessionId: string): Promise<void> {
  await db.delete(mcpSessions).where(and(eq(mcpSessions.id, sessionId), eq(mcpSessions.tokenId, caller.tokenId)));
}

export async function forgetIdleMcpSessions(db: Db): Promise<void> {
  await db.delete(mcpSessions).where(lt(mcpSessions.lastUsedAt, sql`now() - make_interval(days => ${mcpSessionIdleDays})`));
}
