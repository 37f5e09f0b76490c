import { and, eq, ne, sql } from "drizzle-orm";
import type { AgentCaller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { mcpSessions, teams } from "../db/schema/index.ts";
import { conflict, invalid } from "./errors.ts";
import { nameKey, validateAgentName } from "./names.ts";

/**
 * A chosen name is held by the MCP session that took it while that session lives: until its client
 * closes it (DELETE /mcp) or for this long after its last request. A session idle longer loses the
 * name to the next one that asks for it, and signs with its agent's own name until it logs in again.
 */
export const nameHoldMinutes = 30;

/** Agent names cannot contain '/', so a signed name never reads as another agent's. */
export function signedName(agentName: string, chosenName: string): string {
  return `${agentName}/${chosenName}`;
}

/**
 * The caller signing with a name it asked for. A pick-name token's holder signs `<agent>/<name>`,
 * provided the name is no agent's or engineer's of the team and no other live session holds it; with
 * a session, the session then holds it. An agent with its own token always signs as itself, whatever
 * it asks (never an error, never a spoof).
 */
export async function signingAs(db: Db, caller: AgentCaller, requestedName: string | undefined, sessionId?: string): Promise<AgentCaller> {
  if (!caller.pickName || requestedName === undefined) return caller;
  if (requestedName.includes("/")) {
    throw invalid(`Give only the name you choose, without '/': your posts are signed '${caller.agentName}/<name>'.`);
  }
  const chosenName = validateAgentName(requestedName);
  const key = nameKey(chosenName);
  await db.transaction(async (tx) => {
    // Two sessions asking for one name at once: the second sees the first's hold.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`pick-name:${caller.teamId}:${key}`}, 0))::text`);
    const otherSession = sessionId === undefined ? sql`true` : sql`held.id <> ${sessionId}`;
    const [holders] = await tx
      .select({
        agent: sql<boolean>`exists(select 1 from agents where agents.team_id = ${caller.teamId} and lower(agents.name) = ${key})`,
        engineer: sql<boolean>`exists(select 1 from users where users.team_id = ${caller.teamId}
          and (lower(users.username) = ${key} or lower(normalize(users.display_name, NFKC)) = ${key}))`,
        session: sql<boolean>`exists(select 1 from mcp_sessions held where held.team_id = ${caller.teamId}
          and lower(held.display_name) = ${key} and ${otherSession}
          and held.last_used_at > now() - make_interval(mins => ${nameHoldMinutes}))`,
      })
      .from(teams)
      .where(eq(teams.id, caller.teamId));
    if (holders?.agent)
      throw conflict(
        `'${chosenName}' is the name of an agent of this team; a pick-name session may not take an agent's name. Choose another.`,
      );
    if (holders?.engineer)
      throw conflict(
        `'${chosenName}' is the name of an engineer of this team; a pick-name session may not take an engineer's name. Choose another.`,
      );
    if (holders?.session) {
      throw conflict(
        `'${chosenName}' is held by another live session: a chosen name stays with its session until the session closes or for ${nameHoldMinutes} minutes after its last request. Choose another.`,
      );
    }
    // What is left holding the name is idle past the hold: it lets go, so no two sessions sign alike.
    await tx
      .update(mcpSessions)
      .set({ displayName: null })
      .where(
        and(
          eq(mcpSessions.teamId, caller.teamId),
          sql`lower(${mcpSessions.displayName}) = ${key}`,
          sessionId === undefined ? undefined : ne(mcpSessions.id, sessionId),
        ),
      );
    if (sessionId !== undefined) {
      await tx
        .update(mcpSessions)
        .set({ displayName: chosenName, lastUsedAt: sql`now()` })
        .where(and(eq(mcpSessions.id, sessionId), eq(mcpSessions.tokenId, caller.tokenId)));
    }
  });
  return { ...caller, displayName: signedName(caller.agentName, chosenName) };
}
