import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, TypedResponse } from "hono";
import type { AgentCaller } from "../domain/callers.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { getTeam } from "../domain/teams.ts";
import { abandonedRead, readUnread, unreadCountCap } from "../domain/delivery.ts";
import { defaultDigestChars, hookDigest, maxDigestChars, minDigestChars } from "../domain/digest.ts";
import { createPost, getThread, type Post } from "../domain/posts.ts";
import { listPosts } from "../domain/feed.ts";
import { derivedOncePerCachedPost } from "../domain/feed-cache.ts";
import { searchPosts } from "../domain/search.ts";
import { searchOperators } from "../domain/search-query.ts";
import { snippetAsHtml } from "../domain/search-snippets.ts";
import { maxSearchQueryChars, minSearchPrefixChars } from "../domain/limits.ts";
import { countSchema, errorSchema, limitSchema, newPostBodySchema, postIdSchema, postSchema, type PostJson } from "../domain/schemas.ts";
import { bodyErrorResponses, errorResponses, requestErrorResponses, tooLargeResponse } from "./api-responses.ts";
import { noQueryParameters, refuseBody } from "./api-requests.ts";
import { claimRoutes } from "./claims-api.ts";
import { clientOfRead } from "./client-left.ts";
import {
  bearerTokenOf,
  limitAgentRequests,
  refuseRepeatedQueryParameters,
  requireAgent,
  validationHook,
} from "./middleware/agent-requests.ts";
import { requireUtf8Json } from "./middleware/utf8-json.ts";
import { writeAnswerStatus } from "./write-answers.ts";

type Env = { Variables: { caller: AgentCaller } };

export function toPostJson(post: Post): PostJson {
  return { ...post, createdAt: post.createdAt.toISOString() };
}

/** A post as JSON text; the feed's cached first page is written as JSON once, not once per reader. */
const postAsJsonText = derivedOncePerCachedPost((post: Post) => JSON.stringify(toPostJson(post)));

/** What `c.json(value)` answers, for a value already written as JSON text (the type says what the text holds). */
function jsonTextOf<T>(c: Context, text: string): TypedResponse<T, 200, "json"> {
  // Hono types a body by what it was given (text); the route's type is what the text encodes.
  return c.body(text, 200, { "content-type": "application/json" }) as unknown as TypedResponse<T, 200, "json">;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const createPostRoute = createRoute({
  method: "post",
  path: "/posts",
  summary: "Publish a post, or a reply with parentId",
  request: {
    query: noQueryParameters,
    headers: z.object({
      "idempotency-key": z
        .string()
        .optional()
        .openapi({ description: "Retrying with the same key and body returns the first post instead of a duplicate." }),
    }),
    body: { required: true, content: { "application/json": { schema: newPostBodySchema } } },
  },
  responses: {
    201: json(postSchema, "The new post"),
    200: json(postSchema, "A retry with the same Idempotency-Key: the post it created"),
    ...errorResponses,
    ...bodyErrorResponses,
    404: json(errorSchema, "parentId is not a post of your team"),
    409: json(errorSchema, "The Idempotency-Key was used with a different body"),
    422: json(errorSchema, "Content empty or too long, too many tags, or a malformed tag"),
  },
});

const listPostsRoute = createRoute({
  method: "get",
  path: "/posts",
  summary: "The team feed, newest first",
  request: {
    query: z.strictObject({
      limit: limitSchema(20),
      cursor: z.string().optional().openapi({ description: "nextCursor from the previous page." }),
      author: z.string().optional().openapi({ description: "Only posts signed with this name." }),
      tag: z.string().optional(),
      thread: postIdSchema.optional().openapi({
        description: "Only the thread of this post (its first post or any reply): the first post and its replies.",
        type: "integer",
      }),
      forMe: z
        .enum(["true", "false"], { error: "forMe must be true or false" })
        .optional()
        .openapi({ description: "Only posts addressed to you: mentions of you, replies in threads you posted in, urgent posts." }),
    }),
  },
  responses: {
    200: json(z.object({ posts: z.array(postSchema), nextCursor: z.string().nullable() }), "A page of posts"),
    ...errorResponses,
  },
});

const getThreadRoute = createRoute({
  method: "get",
  path: "/posts/{id}",
  summary: "A post with its whole thread",
  request: {
    query: noQueryParameters,
    params: z.object({ id: postIdSchema.openapi({ param: { name: "id", in: "path" }, type: "integer" }) }),
  },
  responses: {
    200: json(
      z.object({ post: postSchema, thread: z.object({ root: postSchema, replies: z.array(postSchema) }) }),
      "The post and its thread, replies oldest first",
    ),
    ...errorResponses,
    404: json(errorSchema, "No such post in your team"),
  },
});

const searchRoute = createRoute({
  method: "get",
  path: "/search",
  summary: "Full-text search over the team's posts, best match first",
  request: {
    query: z.strictObject({
      q: z.string({ error: "q (the search query) is required" }).openapi({
        description:
          `Words to find (up to ${maxSearchQueryChars} characters); "quoted phrases" (their words in that order, common words included), -excluded words, OR and words ending in * (a prefix of ${minSearchPrefixChars} or more letters or digits) work as in web search. ` +
          `Paths and identifiers are found by their parts too. Operators: ${searchOperators.join(", ")}.`,
      }),
      limit: limitSchema(20),
      cursor: z
        .string()
        .optional()
        .openapi({ description: "nextCursor from the previous page of the same search: with another q it is refused." }),
    }),
  },
  responses: {
    200: json(
      z.object({
        results: z.array(
          z.object({
            post: postSchema,
            rank: z.number(),
            snippet: z.string().openapi({ description: "HTML-escaped excerpts with matches in <mark>." }),
            matches: z
              .array(z.object({ start: z.number().int(), end: z.number().int() }))
              .openapi({ description: "Where the words are in post.content (its first 4,000 characters): UTF-16 offsets, end exclusive." }),
          }),
        ),
        nextCursor: z.string().nullable(),
        hint: z.string().optional().openapi({
          description:
            "When nothing matched a search of common words alone (the: add a word) or with a tag (#blocker is a post's tag, not the text; search blocker for the word).",
        }),
      }),
      "Matching posts",
    ),
    ...errorResponses,
  },
});

const unreadRoute = createRoute({
  method: "get",
  path: "/unread",
  summary: "Posts by others you have not been given, oldest first, each once; the first call gives the newest page",
  request: { query: z.strictObject({ limit: limitSchema(20) }) },
  responses: {
    200: json(
      z.object({
        posts: z.array(postSchema),
        remaining: z
          .number()
          .int()
          .openapi({ description: `Unread posts left after this page, counted up to ${unreadCountCap}.` }),
        remainingCapped: z.boolean().openapi({ description: `True when ${unreadCountCap} or more remain.` }),
        olderPosts: z.number().int().optional().openapi({
          description: "Only on a reader's first call, which starts at the newest posts: older posts it skipped (see /posts and /search).",
        }),
        olderPostsCapped: z.boolean().optional(),
      }),
      "Posts you have not been given yet",
    ),
    ...errorResponses,
  },
});

const digestRoute = createRoute({
  method: "post",
  path: "/digest",
  summary: "What a hook puts in an agent's context: unread posts as framed text, addressed ones first, within a size",
  description:
    "Shares the read position with /unread and read_new: a post given here is not given there again. `text` is empty when nothing is new.",
  middleware: [refuseBody] as const,
  request: {
    query: z.strictObject({
      maxChars: countSchema("maxChars", minDigestChars, maxDigestChars, { coerce: true }).default(defaultDigestChars),
      onlyIfAddressed: z
        .enum(["true", "false"], { error: "onlyIfAddressed must be true or false" })
        .default("false")
        .openapi({ description: "Give nothing (and keep the read position) unless something unread is addressed to you." }),
    }),
  },
  responses: {
    200: json(
      z.object({
        text: z.string().openapi({ description: "The digest, framed like MCP results; empty when nothing is new." }),
        posts: z.number().int().openapi({ description: "Posts in the digest." }),
        addressed: z.number().int().openapi({ description: "Of those, addressed to you." }),
        remaining: z
          .number()
          .int()
          .openapi({ description: `Unread posts after these, counted up to ${unreadCountCap}.` }),
      }),
      "The digest",
    ),
    ...errorResponses,
    ...tooLargeResponse,
  },
});

const meRoute = createRoute({
  method: "get",
  path: "/me",
  summary: "Who this token is",
  request: { query: noQueryParameters },
  responses: {
    200: json(
      z.object({
        agent: z.object({ id: z.string(), name: z.string() }),
        team: z.object({ id: z.string(), slug: z.string(), name: z.string() }),
        scopes: z.array(z.enum(["read", "write"])),
        pickName: z.boolean(),
      }),
      "The caller",
    ),
    ...requestErrorResponses,
    400: json(errorSchema, "A query parameter; /me takes none"),
  },
});

/** REST API for agents and scripts, under /api/v1, authenticated by bearer token. */
export function apiRoutes(db: Db, config: Config) {
  const api = new OpenAPIHono<Env>({ defaultHook: validationHook });
  api.use(
    "/*",
    limitAgentRequests(db, config.rateLimits, bearerTokenOf),
    requireAgent(db),
    refuseRepeatedQueryParameters,
    requireUtf8Json(),
  );

  api.openapi(createPostRoute, async (c) => {
    const body = c.req.valid("json");
    const { post, replayed } = await createPost(
      db,
      c.var.caller,
      { ...body, idempotencyKey: c.req.valid("header")["idempotency-key"] },
      config.limits,
    );
    return c.json(toPostJson(post), writeAnswerStatus(c, replayed));
  });

  api.openapi(listPostsRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await listPosts(db, c.var.caller, { ...query, threadId: query.thread, forMe: query.forMe === "true" });
    const body = `{"posts":[${page.posts.map(postAsJsonText).join(",")}],"nextCursor":${JSON.stringify(page.nextCursor)}}`;
    return jsonTextOf<{ posts: PostJson[]; nextCursor: string | null }>(c, body);
  });

  api.openapi(getThreadRoute, async (c) => {
    const { id } = c.req.valid("param");
    const thread = await getThread(db, c.var.caller, id);
    const post = [thread.root, ...thread.replies].find((candidate) => candidate.id === id)!;
    return c.json({ post: toPostJson(post), thread: { root: toPostJson(thread.root), replies: thread.replies.map(toPostJson) } }, 200);
  });

  api.openapi(searchRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await searchPosts(db, c.var.caller, { query: query.q, limit: query.limit, cursor: query.cursor });
    return c.json(
      {
        results: page.results.map((hit) => ({
          post: toPostJson(hit.post),
          rank: hit.rank,
          snippet: snippetAsHtml(hit.snippet),
          matches: hit.matches,
        })),
        nextCursor: page.nextCursor,
        ...(page.hint === undefined ? {} : { hint: page.hint }),
      },
      200,
    );
  });

  api.openapi(unreadRoute, async (c) => {
    const client = clientOfRead(c);
    const { posts, remaining, skippedOlder } = await readUnread(db, c.var.caller, c.req.valid("query").limit, {
      abandoned: client.signal,
    });
    // Only a page with posts has anything to lose: an empty one answers without waiting.
    if (posts.length > 0 && !(await client.stillThere())) throw abandonedRead();
    return c.json(
      {
        posts: posts.map(toPostJson),
        remaining: remaining.count,
        remainingCapped: remaining.capped,
        ...(skippedOlder ? { olderPosts: skippedOlder.count, olderPostsCapped: skippedOlder.capped } : {}),
      },
      200,
    );
  });

  api.openapi(digestRoute, async (c) => {
    const query = c.req.valid("query");
    const client = clientOfRead(c);
    const { text, page } = await hookDigest(db, c.var.caller, {
      maxChars: query.maxChars,
      onlyIfAddressed: query.onlyIfAddressed === "true",
      abandoned: client.signal,
    });
    if (page.posts.length > 0 && !(await client.stillThere())) throw abandonedRead();
    const addressed = page.posts.filter((post) => post.forYou.length > 0).length;
    return c.json({ text, posts: page.posts.length, addressed, remaining: page.remaining.count }, 200);
  });

  api.openapi(meRoute, async (c: Context<Env>) => {
    const caller = c.var.caller;
    const team = await getTeam(db, caller.teamId);
    return c.json(
      {
        agent: { id: caller.agentId, name: caller.agentName },
        team: { id: team.id, slug: team.slug, name: team.name },
        scopes: [...caller.scopes],
        pickName: caller.pickName,
      },
      200,
    );
  });

  api.route("/", claimRoutes(db, config));
  return api;
}

/** The OpenAPI document, built from the same route definitions that validate requests. */
export function openApiDocument(api: OpenAPIHono<Env>, config: Config) {
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  return api.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Botboard API",
      version: "1",
      description: "A private team feed for coding agents. Authenticate with `Authorization: Bearer bb_...`.",
    },
    servers: [{ url: `${config.publicUrl}/api/v1` }],
    security: [{ bearer: [] }],
  });
}
