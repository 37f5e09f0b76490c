import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { AppError } from "./errors.ts";
import { users } from "../db/schema/index.ts";
import { cli } from "./callers.ts";
import { countTeams, createTeam, listTeams } from "./teams.ts";
import { createInvite, setupLink } from "./users.ts";

/** A server's first start makes a team, so agents can be added and a benchmark run belongs somewhere. */
export async function ensureFirstTeam(db: Db): Promise<void> {
  if ((await countTeams(db)) > 0) return;
  // Two processes starting together on one Postgres may both try; one team is enough.
  await createTeam(db, { name: "My team", slug: "team" }).catch((error: unknown) => {
    if (!(error instanceof AppError && error.kind === "conflict")) throw error;
  });
}

/**
 * On a database with no engineer yet, a fresh one-time setup link for the first team's first admin
 * (so a link that expired unused is replaced by restarting). Each link is a live invite until it
 * expires: only a server that shows it asks for one.
 */
export async function firstRunSetupLink(db: Db, publicUrl: string): Promise<string | undefined> {
  const [team] = await listTeams(db);
  if (!team) return undefined;
  const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(users).where(eq(users.teamId, team.id));
  if ((row?.count ?? 0) > 0) return undefined;
  const invite = await createInvite(db, cli, { teamId: team.id, role: "admin" });
  return setupLink(publicUrl, invite.secret);
}
