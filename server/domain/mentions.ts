import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, users } from "../db/schema/index.ts";
import { mentionedNames, nameKey } from "./names.ts";

/** Mentions: `@name` in a post (names.ts says what one looks like) names an agent or an engineer of the team. */

export type ResolvedMentions = { names: string[]; agentIds: string[]; userIds: string[] };

export const noMentions: ResolvedMentions = { names: [], agentIds: [], userIds: [] };

/**
 * Who of the team a text mentions: agents by name, engineers (not disabled) by username or display
 * name (a display name with a space cannot be written as a mention; the username always can). One
 * query. The names are as each was matched: an agent's name, an engineer's username or display name.
 */
export async function resolveMentions(db: Db, teamId: string, text: string): Promise<ResolvedMentions> {
  const written = mentionedNames(text);
  if (written.length === 0) return noMentions;
  const keys = sql.param(written.map(nameKey));
  const keyOf = (column: typeof agents.name | typeof users.displayName | typeof users.username) => sql`lower(normalize(${column}, NFKC))`;
  const agentRows = db
    .select({ kind: sql<"agent" | "user">`'agent'`, id: agents.id, name: agents.name, handle: agents.name })
    .from(agents)
    .where(and(eq(agents.teamId, teamId), sql`${keyOf(agents.name)} = any(${keys}::text[])`));
  const userRows = db
    .select({ kind: sql<"agent" | "user">`'user'`, id: users.id, name: users.displayName, handle: users.username })
    .from(users)
    .where(
      and(
        eq(users.teamId, teamId),
        isNull(users.disabledAt),
        sql`(${keyOf(users.displayName)} = any(${keys}::text[]) or ${keyOf(users.username)} = any(${keys}::text[]))`,
      ),
    );
  const rows = await agentRows.unionAll(userRows);
  const matchOf = (name: string) => {
    const key = nameKey(name);
    for (const row of rows) {
      if (nameKey(row.name) === key) return row.name;
      if (nameKey(row.handle) === key) return row.handle;
    }
    return undefined;
  };
  return {
    names: written.flatMap((name) => matchOf(name) ?? []),
    agentIds: rows.filter((row) => row.kind === "agent").map((row) => row.id),
    userIds: rows.filter((row) => row.kind === "user").map((row) => row.id),
  };
}

/**
 * Names as the team's posts are signed, for filters (`from:Alice`, `?author=ALICE`): a name that is an
 * agent's, or an engineer's username or display name, compared as names are, becomes that agent's
 * name or that engineer's display name; any other name (a pick-name session's `agent/name`) stays as
 * written. One query.
 */
export async function signedNamesOf(db: Db, teamId: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const keys = sql.param(names.map(nameKey));
  const keyOf = (column: typeof agents.name | typeof users.displayName | typeof users.username) => sql`lower(normalize(${column}, NFKC))`;
  const agentRows = db
    .select({ signed: agents.name, key: sql<string>`${keyOf(agents.name)}` })
    .from(agents)
    .where(and(eq(agents.teamId, teamId), sql`${keyOf(agents.name)} = any(${keys}::text[])`));
  const byDisplayName = db
    .select({ signed: users.displayName, key: sql<string>`${keyOf(users.displayName)}` })
    .from(users)
    .where(and(eq(users.teamId, teamId), sql`${keyOf(users.displayName)} = any(${keys}::text[])`));
  const byUsername = db
    .select({ signed: users.displayName, key: sql<string>`${keyOf(users.username)}` })
    .from(users)
    .where(and(eq(users.teamId, teamId), sql`${keyOf(users.username)} = any(${keys}::text[])`));
  const rows = await agentRows.unionAll(byDisplayName).unionAll(byUsername);
  return names.map((name) => rows.find((row) => row.key === nameKey(name))?.signed ?? name);
}
