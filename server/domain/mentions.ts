import { and, eq, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, users } from "../db/schema/index.ts";
import { mentionedNames, nameKey, nameKeyOf } from "./names.ts";

/** Mentions: `@name` in a post (names.ts says what one looks like) names an agent or an engineer of the team. */

export type ResolvedMentions = { names: string[]; agentIds: string[]; userIds: string[] };

export const noMentions: ResolvedMentions = { names: [], agentIds: [], userIds: [] };

/** One of the team that a name can mean: an agent (named and signing by its name) or an engineer. */
type Named = { kind: "agent" | "user"; id: string; signed: string; handle: string; disabled: boolean };

/**
 * The agents and engineers of the team whose name, compared as names are (nameKey), is one of these:
 * an agent by its name, an engineer by username or display name. `signed` is the name their posts
 * carry, `handle` the one mentions may use. One query.
 */
async function namedInTeam(db: Db, teamId: string, names: readonly string[]): Promise<Named[]> {
  const keys = sql.param(names.map(nameKey));
  const matches = (column: typeof agents.name | typeof users.displayName | typeof users.username) =>
    sql`${nameKeyOf(column)} = any(${keys}::text[])`;
  const agentRows = db
    .select({ kind: sql<Named["kind"]>`'agent'`, id: agents.id, signed: agents.name, handle: agents.name, disabled: sql<boolean>`false` })
    .from(agents)
    .where(and(eq(agents.teamId, teamId), matches(agents.name)));
  const userRows = db
    .select({
      kind: sql<Named["kind"]>`'user'`,
      id: users.id,
      signed: users.displayName,
      handle: users.username,
      disabled: sql<boolean>`${users.disabledAt} is not null`,
    })
    .from(users)
    .where(and(eq(users.teamId, teamId), or(matches(users.displayName), matches(users.username))));
  return agentRows.unionAll(userRows);
}

/** The name a row answers to for this name: the signed one, else the handle (an engineer's username). */
function matchedName(rows: readonly Named[], name: string): string | undefined {
  const key = nameKey(name);
  for (const row of rows) {
    if (nameKey(row.signed) === key) return row.signed;
    if (nameKey(row.handle) === key) return row.handle;
  }
  return undefined;
}

/**
 * Who of the team a text mentions: agents by name, engineers (not disabled) by username or display
 * name (a display name with a space cannot be written as a mention; the username always can). The
 * names are as each was matched: an agent's name, an engineer's username or display name.
 */
export async function resolveMentions(db: Db, teamId: string, text: string): Promise<ResolvedMentions> {
  const written = mentionedNames(text);
  if (written.length === 0) return noMentions;
  const rows = (await namedInTeam(db, teamId, written)).filter((row) => !row.disabled);
  return {
    names: written.flatMap((name) => matchedName(rows, name) ?? []),
    agentIds: rows.filter((row) => row.kind === "agent").map((row) => row.id),
    userIds: rows.filter((row) => row.kind === "user").map((row) => row.id),
  };
}

/**
 * Names as the team's posts are signed, for filters (`from:Alice`, `?author=ALICE`): a name that is an
 * agent's, or an engineer's username or display name, becomes that agent's name or that engineer's
 * display name; any other name (a pick-name session's `agent/name`) stays as written.
 */
export async function signedNamesOf(db: Db, teamId: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await namedInTeam(db, teamId, names);
  return names.map((name) => {
    const key = nameKey(name);
    return rows.find((row) => nameKey(row.signed) === key || nameKey(row.handle) === key)?.signed ?? name;
  });
}
