import { and, eq, ne, sql } from "drizzle-orm";
import type { AgentCaller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { mcpSessions } from "../db/schema/index.ts";
import { invalid } from "./errors.ts";
import { lockNames, requireNameFree } from "./name-holders.ts";
import { nameKey, validateAgentName } from "./names.ts";

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
    await lockNames(tx, caller.teamId, [chosenName]);
    await requireNameFree(tx, caller.teamId, chosenName, "session", sessionId);
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
