import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Config } from "../server/config.ts";
import { claimPathLimits, shownClaimPaths } from "../server/domain/claim-paths.ts";
import { argumentWording, waysPastRefusal } from "../server/domain/claim-refusals.ts";
import { type AlreadyHeld, type Claim, ClaimConflict, claimPaths, listClaims, releaseClaims, renewClaim } from "../server/domain/claims.ts";
import { claimLimits } from "../server/domain/limits.ts";
import { type AgentStatus, setStatus, statusLimits } from "../server/domain/statuses.ts";
import { countSchema, mustBe } from "../server/domain/schemas.ts";
import {
  guarded,
  idArgument,
  memoPerConfig,
  readOnly,
  statusOutput,
  type OffersTool,
  type ToolContext,
  toolResult,
  toolArguments,
} from "./context.ts";
import { fenceFor, oneLine } from "../server/domain/post-text.ts";
import { plural } from "./format.ts";

/** Claims on repository paths and the agent's status: who is editing what, and what each agent is doing now. */

const claimOutput = z.object({
  id: z.number().int(),
  holder: z.string(),
  paths: z.array(z.string()),
  reason: z.string(),
  exclusive: z.boolean(),
  createdAt: z.string(),
  expiresAt: z.string(),
  thread: z.number().int().nullable().describe("The feed thread telling this claim's story."),
});

function claimJson(claim: Claim): z.infer<typeof claimOutput> {
  return {
    id: claim.id,
    holder: claim.holder,
    paths: claim.paths,
    reason: claim.reason,
    exclusive: claim.exclusive,
    createdAt: claim.createdAt.toISOString(),
    expiresAt: claim.expiresAt.toISOString(),
    thread: claim.threadId,
  };
}

/** A header line per claim (holder, paths, until), its reason fenced: the holder wrote it. */
export function frameClaims(summary: string, claims: readonly Claim[]): string {
  if (claims.length === 0) return summary;
  const fence = fenceFor(claims.map((claim) => claim.reason));
  const blocks = claims.map((claim) => {
    const header = [
      `claim #${claim.id}`,
      oneLine(claim.holder),
      shownClaimPaths(claim.paths),
      `until ${claim.expiresAt.toISOString()}`,
      claim.exclusive ? "exclusive" : "intent only",
      ...(claim.threadId === null ? [] : [`thread #${claim.threadId}`]),
    ];
    return `${header.join(" · ")}\n${fence.wrap(oneLine(claim.reason))}`;
  });
  return [`${summary} ${fence.legend} (each claim's reason)`, ...blocks].join("\n\n");
}

/** The team's statuses for login: who says they do what, each text fenced as the agent wrote it. */
export function frameStatuses(statuses: readonly AgentStatus[]): string {
  if (statuses.length === 0) return "No agent has set a status (set yours with set_status).";
  const fence = fenceFor(statuses.map((status) => status.text));
  const lines = statuses.map(
    (status) =>
      `${oneLine(status.agent)} · since ${status.setAt.toISOString()}${status.until ? ` · until ${status.until.toISOString()}` : ""}\n${fence.wrap(oneLine(status.text))}`,
  );
  return [`Team statuses: ${fence.legend}`, ...lines].join("\n");
}

const pathsArgument = (what: string) =>
  z
    .array(z.string({ error: "each path must be a string" }), { error: mustBe("paths", "an array of strings") })
    .describe(
      `${what}: 1-${claimPathLimits.maxPaths} repository-relative paths or globs, e.g. ["src/auth/**", "package.json"]; a trailing / means the whole folder.`,
    );

export function registerClaimTools(server: McpServer, context: ToolContext, offers: OffersTool): void {
  const { db, config } = context;
  const configs = claimToolConfigs(config);

  if (offers("claim"))
    server.registerTool("claim", configs.claim, (args) =>
      guarded(async () => {
        try {
          const { claim, overlapping, alreadyHeld } = await claimPaths(
            db,
            context.caller,
            { paths: args.paths, reason: args.reason, minutes: args.minutes, exclusive: args.exclusive },
            config.claims,
          );
          const note = overlapping.length > 0 ? frameClaims(`\nAlso on these paths (not exclusive, or yours is not):`, overlapping) : "";
          if (alreadyHeld) {
            return toolResult(`${heldClaimText(claim, alreadyHeld)}${note}`, {
              claim: claimJson(claim),
              overlapping: overlapping.map(claimJson),
              alreadyHeld,
            });
          }
          return toolResult(
            `Claimed as #${claim.id} until ${claim.expiresAt.toISOString()}: ${shownClaimPaths(claim.paths)}. Release it when done (release), or renew it.${note}`,
            { claim: claimJson(claim), overlapping: overlapping.map(claimJson) },
          );
        } catch (error) {
          if (error instanceof ClaimConflict) return conflictResult(error);
          throw error;
        }
      }),
    );

  if (offers("release"))
    server.registerTool("release", configs.release, (args) =>
      guarded(async () => {
        const released = await releaseClaims(db, context.caller, { claimId: args.claim_id, paths: args.paths });
        const text =
          released.length === 0
            ? "You hold no live claim on those paths."
            : `Released ${released.map((claim) => `#${claim.id}`).join(", ")}.`;
        return toolResult(text, { released: released.map(claimJson) });
      }),
    );

  if (offers("renew"))
    server.registerTool("renew", configs.renew, (args) =>
      guarded(async () => {
        const claim = await renewClaim(db, context.caller, { claimId: args.claim_id, minutes: args.minutes }, config.claims);
        return toolResult(`Claim #${claim.id} now lasts until ${claim.expiresAt.toISOString()}.`, { claim: claimJson(claim) });
      }),
    );

  if (offers("list_claims"))
    server.registerTool("list_claims", configs.list_claims, (args) =>
      guarded(async () => {
        const claims = await listClaims(db, context.caller, { paths: args.paths, agent: args.agent });
        return toolResult(frameClaims(`${plural(claims.length, "live claim")}, soonest to end first.`, claims), {
          claims: claims.map(claimJson),
        });
      }),
    );

  if (offers("set_status"))
    server.registerTool("set_status", configs.set_status, (args) =>
      guarded(async () => {
        const status = await setStatus(db, context.caller, {
          text: args.text,
          until: args.until === undefined ? undefined : new Date(args.until),
        });
        const text = status
          ? `Your status: ${oneLine(status.text)}${status.until ? ` (until ${status.until.toISOString()})` : ""}.`
          : "Your status is cleared.";
        return toolResult(text, { status: status ? { text: status.text, until: status.until?.toISOString() ?? null } : null });
      }),
    );
}

/** The answer to claiming again what the caller holds: that claim, what changed, and its reason as its thread tells it. */
function heldClaimText(claim: Claim, held: AlreadyHeld): string {
  const until = held.extended
    ? `Renewed: it now lasts until ${claim.expiresAt.toISOString()}.`
    : `It lasts until ${claim.expiresAt.toISOString()}; renew it for longer.`;
  const thread = claim.threadId === null ? "its thread" : `its thread #${claim.threadId}`;
  const reason = held.reasonKept ? ` It keeps its own reason, not the one you gave: post in ${thread} to tell the team more.` : "";
  return frameClaims(
    `You already hold claim #${claim.id} on exactly these paths (an earlier call made it); nothing new was claimed. ${until}${reason}`,
    [claim],
  );
}

function conflictResult(error: ClaimConflict): CallToolResult {
  const ways = waysPastRefusal(error.conflicts.length, { ...argumentWording, reply: "create_post with parent_post_id" });
  const text = frameClaims(`Refused: these live claims of others overlap your paths. ${ways}`, error.conflicts);
  return { isError: true, content: [{ type: "text", text }], structuredContent: { conflicts: error.conflicts.map(claimJson) } };
}

const minutesArgument = (max: number) => countSchema("minutes", 1, max);

const mutating = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

function buildClaimToolConfigs(config: Config) {
  const max = config.claims.maxMinutes;
  return {
    claim: {
      title: "Claim files before editing them",
      description:
        "Tells the team you are about to edit these paths, so no one else edits them meanwhile. Refused when they overlap another agent's live claim: the answer names the holder, paths, reason and end time. " +
        `Claim before editing shared files; release when done. Lasts ${claimLimits.defaultMinutes} minutes unless you say otherwise. Returns the claim's id. ` +
        "Claiming exactly the paths (and exclusive) of a live claim you hold, a retry after a timeout say, returns that claim, renewed if you ask for longer, instead of a second one.",
      inputSchema: toolArguments({
        paths: pathsArgument("What you will edit"),
        reason: z.string({ error: mustBe("reason", "a string") }).describe("What you are doing, in a sentence."),
        minutes: minutesArgument(max).optional().describe(`How long, 1-${max} minutes (default ${claimLimits.defaultMinutes}).`),
        exclusive: z
          .boolean({ error: "exclusive must be true or false" })
          .optional()
          .describe("false records intent only: never refused, and refuses no one. Default true."),
      }),
      outputSchema: z.object({
        claim: claimOutput.optional(),
        overlapping: z.array(claimOutput).optional(),
        conflicts: z.array(claimOutput).optional(),
        alreadyHeld: z
          .object({
            extended: z.boolean().describe("It was renewed to the minutes asked for."),
            reasonKept: z.boolean().describe("Another reason was given; the claim keeps its own."),
          })
          .optional()
          .describe(
            "You already held a live claim on exactly these paths, with the same exclusive: this is that claim, and nothing new was claimed.",
          ),
      }),
      annotations: mutating,
    },
    release: {
      title: "Release your claim",
      description:
        "Ends your own claims: the one with claim_id, or every one overlapping paths (given both, the claim must overlap the paths). Do it as soon as you are done editing.",
      inputSchema: toolArguments({
        claim_id: idArgument("claim_id").optional().describe("The claim to release."),
        paths: pathsArgument("Release your claims overlapping these").optional(),
      }),
      outputSchema: z.object({ released: z.array(claimOutput) }),
      annotations: mutating,
    },
    renew: {
      title: "Renew your claim",
      description: "Keeps your live claim for minutes more, counted from now. Use it when the work takes longer than planned.",
      inputSchema: toolArguments({
        claim_id: idArgument("claim_id").describe("Your claim's id."),
        minutes: minutesArgument(max).optional().describe(`1-${max} minutes from now (default ${claimLimits.defaultMinutes}).`),
      }),
      outputSchema: z.object({ claim: claimOutput }),
      annotations: mutating,
    },
    list_claims: {
      title: "See who is editing what",
      description:
        "Lists the team's live claims (holder, paths, reason, end time), soonest to end first; only those overlapping paths, or held by agent, when given. Check before editing files others may be on.",
      inputSchema: toolArguments({
        paths: pathsArgument("Only claims overlapping these").optional(),
        agent: z.string({ error: "agent must be a string" }).optional().describe("Only this agent's claims."),
      }),
      outputSchema: z.object({ claims: z.array(claimOutput) }),
      annotations: readOnly,
    },
    set_status: {
      title: "Say what you are doing now",
      description: "Sets your one-line status, shown next to your name to the team and on the engineers' now board. Empty text clears it.",
      inputSchema: toolArguments({
        text: z
          .string({ error: mustBe("text", "a string") })
          .describe(`Up to ${statusLimits.maxChars} characters, e.g. "fixing the login redirect".`),
        until: z.iso
          .datetime({ offset: true, error: "until must be an ISO date and time, e.g. 2026-12-01T18:00:00Z" })
          .optional()
          .describe("When to stop showing it (ISO date and time)."),
      }),
      outputSchema: z.object({ status: statusOutput.nullable().describe("null: your status is cleared.") }),
      annotations: { ...mutating, idempotentHint: true },
    },
  };
}

const claimToolConfigs = memoPerConfig(buildClaimToolConfigs);
