import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { teams } from "../db/schema/index.ts";
import { conflict } from "./errors.ts";
import { nameKey } from "./names.ts";

/**
 * Names are identities: within a team, one name (compared as names are, nameKey) means one agent,
 * one engineer (by username or display name) or one live pick-name session, never two of them. A
 * mention, an author filter or a post's header could not tell which was meant. Whoever takes a name
 * (an agent made, an engineer set up, a session logging in) locks it, asks who holds it and is
 * refused if another does; two takers at once wait for each other on the lock.
 */

/**
 * A chosen name is held by the MCP session that took it while that session lives: until its client
 * closes it (DELETE /mcp) or for this long after its last request. A session idle longer loses the
 * name to the next one that asks for it, and signs with its agent's own name until it logs in again.
 */
export const nameHoldMinutes = 30;

export type NameTaker = "agent" | "engineer" | "session";

const takerLabels: Record<NameTaker, string> = { agent: "an agent", engineer: "an engineer", session: "a pick-name session" };

/**
 * Locks these names of the team until the transaction ends. Several are locked in one order, so two
 * transactions taking the same two names cannot wait for each other.
 */
export async function lockNames(tx: Db, teamId: string, names: readonly string[]): Promise<void> {
  for (const key of [...new Set(names.map(nameKey))].sort()) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`name:${teamId}:${key}`}, 0))::text`);
  }
}

/**
 * Refuses a name another of the team holds (conflict, naming who and why); inside the transaction
 * that takes the name, after lockNames. `name` is as the taker's rule made it (names.ts);
 * `ownSession` is the session asking, which may ask again for its own name.
 */
export async function requireNameFree(tx: Db, teamId: string, name: string, taker: NameTaker, ownSession?: string): Promise<void> {
  const key = nameKey(name);
  const otherSession = ownSession === undefined ? sql`true` : sql`held.id <> ${ownSession}`;
  // Stored names are canonical already, so lower() is their key; display names from before the name rule are normalised too.
  const [holders] = await tx
    .select({
      agent: sql<boolean>`exists(select 1 from agents where agents.team_id = ${teamId} and lower(agents.name) = ${key})`,
      engineer: sql<boolean>`exists(select 1 from users where users.team_id = ${teamId}
        and (lower(users.username) = ${key} or lower(normalize(users.display_name, NFKC)) = ${key}))`,
      session: sql<boolean>`exists(select 1 from mcp_sessions held where held.team_id = ${teamId}
        and lower(held.display_name) = ${key} and ${otherSession}
        and held.last_used_at > now() - make_interval(mins => ${nameHoldMinutes}))`,
    })
    .from(teams)
    .where(eq(teams.id, teamId));
  const taking = takerLabels[taker];
  if (holders?.agent)
    throw conflict(`'${name}' is the name of an agent of this team; ${taking} may not take an agent's name. Choose another.`);
  if (holders?.engineer) {
    throw conflict(`'${name}' is the name of an engineer of this team; ${taking} may not take an engineer's name. Choose another.`);
  }
  if (holders?.session) {
    throw conflict(
      `'${name}' is held by another live session: a chosen name stays with its session until the session closes or for ${nameHoldMinutes} minutes after its last request. Choose another.`,
    );
  }
}
