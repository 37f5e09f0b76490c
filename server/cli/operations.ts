import { addAgentToken, listAgents, revokeAgentTokens } from "../domain/agents.ts";
import { getBenchRun, listBenchRuns, listBenchTrials } from "../domain/bench-runs.ts";
import type { Db } from "../db/client.ts";
import { invalid } from "../domain/errors.ts";
import { exportTeam, importTeam } from "../domain/team-archive.ts";
import { createTeam, findTeam, listTeams, type Team } from "../domain/teams.ts";
import { cli } from "../domain/callers.ts";
import { createInvite, setupLink, type Role } from "../domain/users.ts";

/**
 * What the command line can do to a database. The CLI runs these directly, or, when the embedded
 * database is held by a running server, asks that server to run them over its local admin socket.
 */

export type OperationContext = { db: Db; publicUrl: string };

/** The team a command means: the one named, or the only one there is. */
async function resolveTeam(db: Db, slugOrId: string | undefined): Promise<Team> {
  if (slugOrId) return findTeam(db, slugOrId);
  const teams = await listTeams(db);
  if (teams.length === 1) return teams[0]!;
  if (teams.length === 0) throw invalid("There is no team yet: create one with `botboard team add <name>`.");
  throw invalid(`There are ${teams.length} teams; say which with --team (${teams.map((team) => team.slug).join(", ")}).`);
}

export const operations = {
  async "team.add"({ db }: OperationContext, input: { name: string; slug?: string }) {
    const team = await createTeam(db, input);
    return { id: team.id, slug: team.slug, name: team.name };
  },
  async "team.list"({ db }: OperationContext) {
    const teams = await listTeams(db);
    return teams.map((team) => ({ id: team.id, slug: team.slug, name: team.name, createdAt: team.createdAt }));
  },
  async "agent.add"(
    { db, publicUrl }: OperationContext,
    input: { name: string; team?: string; scopes?: string[]; pickName?: boolean; expiresInDays?: number },
  ) {
    const team = await resolveTeam(db, input.team);
    const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : undefined;
    const created = await addAgentToken(db, cli, { ...input, teamId: team.id, expiresAt });
    return {
      agent: created.agent.name,
      team: team.slug,
      token: created.token,
      prefix: created.tokenRecord.prefix,
      scopes: created.tokenRecord.scopes,
      pickName: created.tokenRecord.pickName,
      expiresAt: created.tokenRecord.expiresAt,
      serverUrl: publicUrl,
    };
  },
  async "agent.list"({ db }: OperationContext, input: { team?: string }) {
    const team = await resolveTeam(db, input.team);
    const agents = await listAgents(db, team.id);
    return agents.map((agent) => ({
      name: agent.name,
      posts: agent.postCount,
      lastSeenAt: agent.lastSeenAt,
      tokens: agent.tokens.map((token) => ({
        prefix: token.prefix,
        scopes: token.scopes,
        pickName: token.pickName,
        revoked: token.revokedAt !== null,
        expiresAt: token.expiresAt,
        lastUsedAt: token.lastUsedAt,
      })),
    }));
  },
  async "agent.revoke"({ db }: OperationContext, input: { target: string; team?: string }) {
    const team = await resolveTeam(db, input.team);
    return { revoked: await revokeAgentTokens(db, cli, team.id, input.target) };
  },
  async "team.export"({ db }: OperationContext, input: { team?: string }) {
    const team = await resolveTeam(db, input.team);
    return { lines: await exportTeam(db, team.id) };
  },
  async "team.import"({ db }: OperationContext, input: { lines: string[] }) {
    return importTeam(db, input.lines);
  },
  async "user.add"({ db, publicUrl }: OperationContext, input: { team?: string; role?: Role }) {
    const team = await resolveTeam(db, input.team);
    const invite = await createInvite(db, cli, { teamId: team.id, role: input.role ?? "admin" });
    return { team: team.slug, link: setupLink(publicUrl, invite.secret), expiresAt: invite.expiresAt };
  },
  async "bench.list"({ db }: OperationContext) {
    return listBenchRuns(db);
  },
  async "bench.show"({ db }: OperationContext, input: { runId: string }) {
    return { run: await getBenchRun(db, input.runId), trials: await listBenchTrials(db, input.runId) };
  },
};

export type OperationName = keyof typeof operations;

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(operations, name);
}
