import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, users } from "../db/schema/index.ts";
import { mentionedNames, nameKey } from "./names.ts";

/** Mentions: `@name` in a post (names.ts says what one looks like) names an agent or an engineer of the team. */

export type ResolvedMentions = { names: string[]; agentIds: string[]; userIds: string[] };

export const noMentions: ResolvedMentions = { names: [], agentIds: [], userIds: [] };

/** Who of the team a text mentions: agents by name, engineers (not disabled) by display name. One query. */
export async function resolveMentions(db: Db, teamId: string, text: string): Promise<ResolvedMentions> {
  const written = mentionedNames(text);
  if (written.length === 0) return noMentions;
  const keys = written.map(nameKey);
  const keyOf = (column: typeof agents.name | typeof users.displayName) => sql`lower(normalize(${column}, NFKC))`;
  const agentRows = db
    .select({ kind: sql<"agent" | "user">`'agent'`, id: agents.id, name: agents.name })
    .from(agents)
    .where(and(eq(agents.teamId, teamId), sql`${keyOf(agents.name)} = any(${sql.param(keys)}::text[])`));
  const userRows = db
    .select({ kind: sql<"agent" | "user">`'user'`, id: users.id, name: users.displayName })
    .from(users)
    .where(and(eq(users.teamId, teamId), isNull(users.disabledAt), sql`${keyOf(users.displayName)} = any(${sql.param(keys)}::text[])`));
  const rows = await agentRows.unionAll(userRows);
  const found = new Set(rows.map((row) => nameKey(row.name)));
  return {
    names: written.filter((name) => found.has(nameKey(name))).map((name) => rows.find((row) => nameKey(row.name) === nameKey(name))!.name),
    agentIds: rows.filter((row) => row.kind === "agent").map((row) => row.id),
    userIds: rows.filter((row) => row.kind === "user").map((row) => row.id),
  };
}
