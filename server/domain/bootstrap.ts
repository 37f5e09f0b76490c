import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { AppError } from "./errors.ts";
import { users } from "../db/schema/index.ts";
import { cli } from "./callers.ts";
import { countTeams, createTeam, listTeams } from "./teams.ts";
import { createInvite, setupLink } from "./users.ts";

/**
 * On a database with no engineer yet, makes sure there is a team and returns a fresh one-time setup
 * link for its first admin (so a link that expired unused is replaced by restarting).
 */
export async function firstRunSetupLink(db: Db, publicUrl: string): Promise<string | undefined> {
  if ((await countTeams(db)) === 0) {
    // Two processes starting together on one Postgres may both try; one team is enough.
    await createTeam(db, { name: "My team", slug: "team" }).catch((error: unknown) => {
      if (!(error instanceof AppError && error.kind === "conflict")) throw error;
    });
  }
  const [team] = await listTeams(db);
  if (!team) return undefined;
  const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(users).where(eq(users.teamId, team.id));
  if ((row?.count ?? 0) > 0) return undefined;
  const invite = await createInvite(db, cli, { teamId: team.id, role: "admin" });
  return setupLink(publicUrl, invite.secret);
}
