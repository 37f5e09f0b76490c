import { z } from "zod";
import type { Db } from "../db/client.ts";
import { invalid } from "../domain/errors.ts";
import type { PostLimits } from "../domain/limits.ts";
import { createTeam, findTeam, getTeam, listTeams, type Team } from "../domain/teams.ts";
import { cli } from "../domain/callers.ts";

// An operation imports the domain module it runs when it runs: a command then loads what it uses,
// not every operation's rules (importing them all cost 0.16 s of the 0.46 s of CPU `agent list` took).
const agentRules = () => import("../domain/agents.ts");
const benchRunRules = () => import("../domain/bench-runs.ts");
const teamArchiveRules = () => import("../domain/team-archive.ts");
const engineerRules = () => import("../domain/engineers.ts");
const inviteRules = () => import("../domain/users.ts");

/**
 * What the command line can do to a database. The CLI runs these directly, or, when the embedded
 * database is held by a running server, asks that server to run them over its local admin socket.
 */

/** `postLimits`: this server's BOTBOARD_MAX_POST_CHARS and BOTBOARD_MAX_TAGS, which an import holds archived posts to. */
export type OperationContext = { db: Db; publicUrl: string; postLimits: PostLimits };

/** The team a command means: the one named, or the only one there is. */
async function resolveTeam(db: Db, slugOrId: string | undefined): Promise<Team> {
  if (slugOrId) return findTeam(db, slugOrId);
  const teams = await listTeams(db);
  if (teams.length === 1) return teams[0]!;
  if (teams.length === 0) throw invalid("There is no team yet: create one with `botboard team add <name>`.");
  throw invalid(`There are ${teams.length} teams; say which with --team (${teams.map((team) => team.slug).join(", ")}).`);
}

/** An operation: its input's schema (checked on every path, direct or over the socket) and its body. */
function operation<Input extends z.ZodType, Result>(
  input: Input,
  run: (context: OperationContext, input: z.output<Input>) => Promise<Result>,
) {
  return { input, run };
}

const teamOption = z.string().min(1).optional();
/** Operations without arguments take nothing, or an empty object (what the socket client sends). */
const noInput = z.strictObject({}).optional();

export const operations = {
  "team.add": operation(z.strictObject({ name: z.string(), slug: z.string().optional() }), async ({ db }, input) => {
    const team = await createTeam(db, input);
    return { id: team.id, slug: team.slug, name: team.name };
  }),
  "team.list": operation(noInput, async ({ db }) => {
    const teams = await listTeams(db);
    return teams.map((team) => ({ id: team.id, slug: team.slug, name: team.name, createdAt: team.createdAt }));
  }),
  "agent.add": operation(
    z.strictObject({
      name: z.string(),
      team: teamOption,
      scopes: z.array(z.string()).optional(),
      pickName: z.boolean().optional(),
      expiresInDays: z.number().positive().optional(),
    }),
    async ({ db, publicUrl }, input) => {
      const team = await resolveTeam(db, input.team);
      const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : undefined;
      const created = await (await agentRules()).addAgentToken(db, cli, { ...input, teamId: team.id, expiresAt });
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
  ),
  "agent.list": operation(z.strictObject({ team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    const agents = await (await agentRules()).listAgents(db, team.id);
    return agents.map((agent) => ({
      name: agent.name,
      posts: agent.postCount,
      lastSeenAt: agent.lastSeenAt,
      tokens: agent.tokens.map((token) => ({
        prefix: token.prefix,
        scopes: token.scopes,
        pickName: token.pickName,
        status: token.status,
        expiresAt: token.expiresAt,
        lastUsedAt: token.lastUsedAt,
      })),
    }));
  }),
  "agent.revoke": operation(z.strictObject({ target: z.string(), team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    return { revoked: await (await agentRules()).revokeAgentTokens(db, cli, team.id, input.target) };
  }),
  "team.export": operation(z.strictObject({ team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    return { lines: await (await teamArchiveRules()).exportTeam(db, team.id) };
  }),
  "team.import": operation(
    z.strictObject({ lines: z.array(z.string()), withSecrets: z.boolean().optional() }),
    async ({ db, postLimits }, input) =>
      (await teamArchiveRules()).importTeam(db, input.lines, { withSecrets: input.withSecrets ?? false, limits: postLimits }),
  ),
  "user.add": operation(
    z.strictObject({ team: teamOption, role: z.enum(["admin", "member"]).optional() }),
    async ({ db, publicUrl }, input) => {
      const team = await resolveTeam(db, input.team);
      const { createInvite, setupLink } = await inviteRules();
      const invite = await createInvite(db, cli, { teamId: team.id, role: input.role ?? "admin" });
      return { team: team.slug, link: setupLink(publicUrl, invite.secret), expiresAt: invite.expiresAt };
    },
  ),
  "user.list": operation(z.strictObject({ team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    return (await engineerRules()).listEngineers(db, cli, team.id);
  }),
  "user.role": operation(
    z.strictObject({ username: z.string(), role: z.enum(["admin", "member"]), team: teamOption }),
    async ({ db }, input) => {
      const team = await resolveTeam(db, input.team);
      return { changed: await (await engineerRules()).setEngineerRole(db, cli, team.id, input.username, input.role) };
    },
  ),
  "user.disable": operation(z.strictObject({ username: z.string(), team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    return { changed: await (await engineerRules()).disableEngineer(db, cli, team.id, input.username) };
  }),
  "user.enable": operation(z.strictObject({ username: z.string(), team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    return { changed: await (await engineerRules()).enableEngineer(db, cli, team.id, input.username) };
  }),
  "user.delete": operation(z.strictObject({ username: z.string(), team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    await (await engineerRules()).deleteEngineer(db, cli, team.id, input.username);
    return { deleted: input.username };
  }),
  "invite.list": operation(z.strictObject({ team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    return (await engineerRules()).listOpenInvites(db, cli, team.id);
  }),
  "invite.cancel": operation(z.strictObject({ ref: z.string(), team: teamOption }), async ({ db }, input) => {
    const team = await resolveTeam(db, input.team);
    await (await engineerRules()).cancelInvite(db, cli, team.id, input.ref);
    return { cancelled: input.ref };
  }),
  "bench.list": operation(noInput, async ({ db }) => (await benchRunRules()).listBenchRuns(db, cli)),
  "bench.show": operation(z.strictObject({ runId: z.string() }), async ({ db }, input) => {
    const { getBenchRun, listBenchTrials } = await benchRunRules();
    const run = await getBenchRun(db, cli, input.runId);
    return {
      run,
      teamSlug: run.teamId ? (await getTeam(db, run.teamId)).slug : null,
      trials: await listBenchTrials(db, input.runId),
    };
  }),
  "bench.assign": operation(
    z.strictObject({ runId: z.string(), team: z.union([z.string().min(1), z.literal(false)]) }),
    async ({ db }, input) => {
      const team = input.team === false ? null : await findTeam(db, input.team);
      await (await benchRunRules()).setBenchRunTeam(db, input.runId, team?.id ?? null);
      return { runId: input.runId, team: team?.slug ?? null };
    },
  ),
};

export type OperationName = keyof typeof operations;
export type OperationInput<Name extends OperationName> = z.input<(typeof operations)[Name]["input"]>;
export type OperationResult<Name extends OperationName> = Awaited<ReturnType<(typeof operations)[Name]["run"]>>;

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(operations, name);
}

/**
 * Runs an operation on a database after checking its input against the operation's schema: the
 * one way an operation runs, whether the command line opened the database or asked a server.
 */
export async function runOperationOn<Name extends OperationName>(
  context: OperationContext,
  name: Name,
  input: unknown,
): Promise<OperationResult<Name>> {
  const { input: schema, run } = operations[name] as unknown as {
    input: z.ZodType;
    run: (context: OperationContext, input: unknown) => Promise<OperationResult<Name>>;
  };
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "input"}: ${issue.message}`);
    throw invalid(`Invalid input for ${name}: ${problems.join("; ")}.`);
  }
  return run(context, parsed.data);
}
