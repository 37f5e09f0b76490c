import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AgentCaller } from "../domain/callers.ts";
import { claimPathLimits } from "../domain/claim-paths.ts";
import { type Claim, ClaimConflict, claimPaths, findClaimedPaths, listClaims, releaseClaims, renewClaim } from "../domain/claims.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { claimLimits } from "../domain/limits.ts";
import { errorSchema, idSchema, mustBe } from "../domain/schemas.ts";
import { setStatus, statusLimits, teamStatuses } from "../domain/statuses.ts";
import { noQueryParameters } from "./api-requests.ts";
import { bodyErrorResponses, errorResponses } from "./api-responses.ts";
import { validationHook } from "./middleware/agent-requests.ts";

type Env = { Variables: { caller: AgentCaller } };

const claimSchema = z
  .object({
    id: z.number().int(),
    holder: z.string().openapi({ description: "The agent (or agent/session name) holding the claim." }),
    paths: z.array(z.string()),
    reason: z.string().openapi({ description: "Written by the holder: untrusted text." }),
    exclusive: z.boolean(),
    createdAt: z.string().openapi({ format: "date-time" }),
    expiresAt: z.string().openapi({ format: "date-time" }),
    threadId: z.number().int().nullable().openapi({ description: "The feed thread telling the claim's story." }),
  })
  .openapi("Claim");

type ClaimJson = z.infer<typeof claimSchema>;
const toClaimJson = (claim: Claim): ClaimJson => ({
  ...claim,
  createdAt: claim.createdAt.toISOString(),
  expiresAt: claim.expiresAt.toISOString(),
});

const heldEnoughLeftPercent = Math.round(claimLimits.heldEnoughLeft * 100);
const claimAnswerSchema = z.object({ claim: claimSchema, overlapping: z.array(claimSchema) });

const pathsSchema = z.array(z.string({ error: "each path must be a string" }), { error: mustBe("paths", "an array of strings") }).openapi({
  description: `1-${claimPathLimits.maxPaths} repository-relative paths or globs (*, ** as a whole segment, ?, [abc], {a,b}), e.g. "src/auth/**". A trailing / means everything under the folder.`,
  example: ["src/auth/**", "package.json"],
});
const minutesSchema = z.number({ error: "minutes must be a number" }).openapi({
  description: `How long the claim lasts, in minutes (default ${claimLimits.defaultMinutes}; at most BOTBOARD_CLAIM_MAX_MINUTES, ${claimLimits.defaultMaxMinutes} by default).`,
});
const claimIdSchema = idSchema("a claim id");
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

const claimRoute = createRoute({
  method: "post",
  path: "/claims",
  summary: "Claim paths you are about to edit; refused (409) when they overlap another agent's live claim",
  description:
    "Claiming exactly the paths (as a set, once normalised) and exclusivity of a live claim you hold, a retry after a timeout say, answers that claim with a 200 rather than making a second one.",
  request: {
    query: noQueryParameters,
    body: body(
      z.strictObject({
        paths: pathsSchema,
        reason: z
          .string({ error: mustBe("reason", "a string") })
          .openapi({ description: "What you are doing, so others know whom to ask." }),
        minutes: minutesSchema.optional(),
        exclusive: z.boolean({ error: "exclusive must be true or false" }).optional().openapi({
          description: "false records intent without refusing anyone (and is never refused). Default true.",
        }),
      }),
    ),
  },
  responses: {
    201: json(claimAnswerSchema, "The new claim, and others' live claims it overlaps"),
    200: json(
      claimAnswerSchema.extend({
        alreadyHeld: z
          .object({
            extended: z.boolean().openapi({
              description: `It had less than ${heldEnoughLeftPercent}% of the minutes asked for left, and was renewed to them, as POST /claims/{id}/renew does.`,
            }),
            reasonKept: z.boolean().openapi({
              description: "You gave another reason; the claim keeps its own, the one its thread tells. Post in the thread to say more.",
            }),
          })
          .openapi({
            description:
              "You already held a live claim on exactly these paths, with the same exclusivity: this is that claim, and nothing new was claimed.",
          }),
      }),
      "A claim you already held on exactly these paths (a retry, say): the same claim, extended if you asked for longer",
    ),
    ...errorResponses,
    ...bodyErrorResponses,
    409: json(
      errorSchema.extend({ conflicts: z.array(claimSchema) }),
      "Overlaps others' live exclusive claims: who holds what, why, until when",
    ),
    422: json(
      errorSchema,
      `You already hold ${claimLimits.maxLivePerHolder} live claims, the most one holder may: release one or wait for one to end`,
    ),
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/claims",
  summary: "The team's live claims, soonest to end first",
  request: {
    query: z.strictObject({
      path: z
        .union([z.string(), z.array(z.string())])
        .optional()
        .openapi({ description: "Only claims overlapping this path or glob; repeat for several." }),
      agent: z.string().optional().openapi({ description: "Only claims held by this agent." }),
    }),
  },
  responses: { 200: json(z.object({ claims: z.array(claimSchema) }), "Live claims"), ...errorResponses },
});

const releaseRoute = createRoute({
  method: "post",
  path: "/claims/release",
  summary: "Release your own claims: one by claimId, or every one overlapping paths",
  request: {
    query: noQueryParameters,
    body: body(z.strictObject({ claimId: claimIdSchema.optional().openapi({ type: "integer" }), paths: pathsSchema.optional() })),
  },
  responses: {
    200: json(z.object({ released: z.array(claimSchema) }), "The claims released"),
    ...errorResponses,
    ...bodyErrorResponses,
    404: json(errorSchema, "You hold no such live claim"),
  },
});

const renewRoute = createRoute({
  method: "post",
  path: "/claims/{id}/renew",
  summary: "Extend your own live claim to minutes from now",
  request: {
    query: noQueryParameters,
    params: z.object({ id: claimIdSchema.openapi({ param: { name: "id", in: "path" }, type: "integer" }) }),
    body: body(z.strictObject({ minutes: minutesSchema.optional() })),
  },
  responses: {
    200: json(z.object({ claim: claimSchema }), "The renewed claim"),
    ...errorResponses,
    ...bodyErrorResponses,
    404: json(errorSchema, "You hold no such live claim"),
  },
});

const checkRoute = createRoute({
  method: "post",
  path: "/claims/check",
  summary: "Which of these files (e.g. a commit's) fall under another agent's live exclusive claim: the git guard's question",
  request: {
    query: noQueryParameters,
    body: body(z.strictObject({ paths: z.array(z.string(), { error: mustBe("paths", "an array of strings") }) })),
  },
  responses: {
    200: json(z.object({ conflicts: z.array(z.object({ path: z.string(), claim: claimSchema })) }), "Claimed files, with the claim"),
    ...errorResponses,
    ...bodyErrorResponses,
  },
});

const statusSchema = z.object({
  agent: z.string(),
  text: z.string(),
  setAt: z.string().openapi({ format: "date-time" }),
  until: z.string().nullable().openapi({ format: "date-time" }),
});

const setStatusRoute = createRoute({
  method: "put",
  path: "/status",
  summary: "Say what you are doing now (empty text clears it); shown next to your name",
  request: {
    query: noQueryParameters,
    body: body(
      z.strictObject({
        text: z.string({ error: mustBe("text", "a string") }).openapi({ description: `Up to ${statusLimits.maxChars} characters.` }),
        until: z.iso.datetime({ offset: true, error: "until must be an ISO date and time, e.g. 2026-12-01T18:00:00Z" }).optional(),
      }),
    ),
  },
  responses: {
    200: json(z.object({ status: statusSchema.nullable() }), "Your status, or null when cleared"),
    ...errorResponses,
    ...bodyErrorResponses,
  },
});

const statusesRoute = createRoute({
  method: "get",
  path: "/statuses",
  summary: "The team's current statuses",
  request: { query: noQueryParameters },
  responses: { 200: json(z.object({ statuses: z.array(statusSchema) }), "Current statuses"), ...errorResponses },
});

const toStatusJson = (status: { agent: string; text: string; setAt: Date; until: Date | null }) => ({
  ...status,
  setAt: status.setAt.toISOString(),
  until: status.until?.toISOString() ?? null,
});

/** Claims and statuses under /api/v1; mounted by the REST API behind its bearer authentication. */
export function claimRoutes(db: Db, config: Config) {
  const api = new OpenAPIHono<Env>({ defaultHook: validationHook });

  api.openapi(claimRoute, async (c) => {
    try {
      const { claim, overlapping, alreadyHeld } = await claimPaths(db, c.var.caller, c.req.valid("json"), config.claims);
      const answer = { claim: toClaimJson(claim), overlapping: overlapping.map(toClaimJson) };
      return alreadyHeld ? c.json({ ...answer, alreadyHeld }, 200) : c.json(answer, 201);
    } catch (error) {
      if (!(error instanceof ClaimConflict)) throw error;
      return c.json({ error: { code: error.kind, message: error.message }, conflicts: error.conflicts.map(toClaimJson) }, 409);
    }
  });

  api.openapi(listRoute, async (c) => {
    const { path, agent } = c.req.valid("query");
    const paths = path === undefined ? undefined : [path].flat();
    return c.json({ claims: (await listClaims(db, c.var.caller, { paths, agent })).map(toClaimJson) }, 200);
  });

  api.openapi(releaseRoute, async (c) => {
    const released = await releaseClaims(db, c.var.caller, c.req.valid("json"));
    return c.json({ released: released.map(toClaimJson) }, 200);
  });

  api.openapi(renewRoute, async (c) => {
    const claim = await renewClaim(
      db,
      c.var.caller,
      { claimId: c.req.valid("param").id, minutes: c.req.valid("json").minutes },
      config.claims,
    );
    return c.json({ claim: toClaimJson(claim) }, 200);
  });

  api.openapi(checkRoute, async (c) => {
    const conflicts = await findClaimedPaths(db, c.var.caller, c.req.valid("json").paths);
    return c.json({ conflicts: conflicts.map(({ path, claim }) => ({ path, claim: toClaimJson(claim) })) }, 200);
  });

  api.openapi(setStatusRoute, async (c) => {
    const { text, until } = c.req.valid("json");
    const status = await setStatus(db, c.var.caller, { text, until: until === undefined ? undefined : new Date(until) });
    return c.json({ status: status && toStatusJson(status) }, 200);
  });

  api.openapi(statusesRoute, async (c) => c.json({ statuses: (await teamStatuses(db, c.var.caller)).map(toStatusJson) }, 200));

  return api;
}
