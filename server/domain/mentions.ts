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
