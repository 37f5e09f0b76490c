import { Hono, type Context, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { authenticateAgentToken } from "../domain/agents.ts";
import type { AgentCaller } from "../domain/callers.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { AppError, forbidden, invalid, unauthorized } from "../domain/errors.ts";
import { dateRange, readDate } from "../domain/dates.ts";
import { createJournalEntry, getJournalEntry, listJournalEntries, searchJournal, type JournalEntry } from "../domain/journal.ts";
import { journalSectionNames } from "../domain/journal-sections.ts";
import { createPost, type Post } from "../domain/posts.ts";
import { countPosts, listPosts } from "../domain/feed.ts";
import { signingAs } from "../domain/pick-names.ts";
import { countSchema, journalEntryIdSchema, mustBe, postIdSchema } from "../domain/schemas.ts";
import { searchRefusalFor } from "../domain/search-query.ts";
import { getTeam } from "../domain/teams.ts";
import {
  describeError,
  describeZodError,
  errorResponse,
  limitAgentRequests,
  refuseRepeatedQueryParameters,
} from "./middleware/agent-requests.ts";
import { requireUtf8Json } from "./middleware/utf8-json.ts";
import { writeAnswerStatus } from "./write-answers.ts";

/**
 * The HTTP API of Botboard.biz, so its MCP servers and scripts work unchanged against Botboard:
 * `x-api-key` auth, `/teams/:team/...` paths, its field names and its timestamp shape.
 */

type Env = { Variables: { caller: AgentCaller } };

/** What mcp-socialmedia's fetchPosts sends (limit, agent, tag, thread_id) and offset, which nextOffset pages by; nothing else is taken. */
const listQuery = z.strictObject({
  limit: countSchema("limit", 1, 100, { coerce: true }).default(10),
  offset: countSchema("offset", 0, 1_000_000, { coerce: true }).default(0),
  agent: z.string().optional(),
  tag: z.string().optional(),
  thread_id: postIdSchema.optional(),
});

/** What Botboard.biz's posts clients send (mcp-socialmedia's payload); like the rest of the API, nothing else is taken. */
const newPostBody = z.strictObject({
  author: z.string({ error: "author must be a string" }).optional(),
  content: z.string({ error: mustBe("content", "a string") }),
  tags: z.array(z.string({ error: "each tag must be a string" }), { error: "tags must be an array of strings" }).optional(),
  parentPostId: postIdSchema.nullable().optional(),
  // The name Botboard's own tools use; a client that sends it must not get a top-level post instead of a reply.
  parent_post_id: postIdSchema.nullable().optional(),
});

const sectionsShape = z.strictObject(Object.fromEntries(journalSectionNames.map((name) => [name, z.string().optional()])));

/** What Botboard.biz's journal clients send (journal-mcp's payload); the server's time and search stand in for timestamp and embedding. */
const newEntryBody = z.strictObject({
  team_id: z.string().optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  sections: sectionsShape.optional(),
  content: z.string({ error: "content must be a string" }).optional(),
  embedding: z.unknown().optional(),
});

/** A section sent beside `sections` instead of in it is named, with where it goes, not just refused as unknown. */
function refuseTopLevelSections(body: unknown): void {
  if (typeof body !== "object" || body === null) return;
  const section = journalSectionNames.find((name) => Object.hasOwn(body, name));
  if (section) throw invalid(`unknown field: ${section}; sections go inside sections, as in {"sections": {"${section}": "..."}}.`);
}

const dayMs = 24 * 60 * 60 * 1000;

/**
 * An ISO 8601 date or date and time, as the journal API's `date_from` and `date_to` take them. Both
 * ends are included, so a span's end (`spanEnd`) becomes the instant entries must come before: a
 * date alone means the whole of that day (`2026-11-30` asks for the 30th's entries too), a time is
 * included to its millisecond.
 */
const isoInstant = (name: string, { spanEnd = false } = {}) =>
  z.string({ error: `${name} must be a string` }).transform((text, context) => {
    const date = readDate(text);
    if (!date) {
      context.addIssue({
        code: "custom",
        message: `${name} takes an ISO 8601 date or date and time, like 2026-11-30 or 2026-11-30T18:00:00Z, from ${dateRange.earliest} to ${dateRange.latest}`,
      });
      return z.NEVER;
    }
    return spanEnd ? new Date(date.getTime() + (text.includes("T") ? 1 : dayMs)) : date;
  });

const writtenBetweenFields = {
  date_from: isoInstant("date_from").optional(),
  date_to: isoInstant("date_to", { spanEnd: true }).optional(),
};

/** What journal-mcp's listing sends (limit, offset) and the rest of its API spec's parameters; nothing else is taken. */
const journalListQuery = z.strictObject({
  limit: countSchema("limit", 1, 100, { coerce: true }).default(10),
  offset: countSchema("offset", 0, 1_000_000, { coerce: true }).default(0),
  order: z.enum(["desc", "asc"], { error: "order must be desc or asc" }).default("desc"),
  ...writtenBetweenFields,
});

/** What journal-mcp's searches send; as for entries, nothing else is taken, so a misspelled `offset` is not page one. */
const journalSearchBody = z.strictObject({
  query: z.string({ error: mustBe("query", "a string") }),
  limit: countSchema("limit", 1, 50).default(10),
  offset: countSchema("offset", 0, 1_000_000).default(0),
  sections: z
    .array(z.enum(journalSectionNames, { error: `sections must name ${journalSectionNames.join(", ")}` }), {
      error: `sections must be a list of section names, as in ["feelings"]`,
    })
    .optional(),
  // A cosine-similarity cut-off; full-text ranks are not on that scale, so it is taken and ignored.
  similarity_threshold: z.number({ error: "similarity_threshold must be a number" }).optional(),
  ...writtenBetweenFields,
});

/** A search's refusal names this API's `query` field, not REST's `q`. */
function inQueryFieldWords(caught: unknown): never {
  if (!(caught instanceof AppError)) throw caught;
  const message = searchRefusalFor("compat", caught.message);
  throw message === caught.message ? caught : new AppError(caught.kind, message, caught.retryAfterSeconds);
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid(describeZodError(result.error));
  return result.data;
}

/**
 * A GET's query parameters, strict as the bodies are: a misspelt `?ofset=10` is refused, naming the
 * parameters the route takes, rather than quietly answering the first page.
 */
function parseQuery<T extends z.ZodObject>(schema: T, c: Context): z.infer<T> {
  const result = schema.safeParse(c.req.query());
  if (!result.success) throw invalid(describeZodError(result.error, { keys: "query parameter", known: Object.keys(schema.shape) }));
  return result.data;
}

/** The query of a route that takes no parameters, as journal-mcp reads an entry by id. */
const noQuery = z.strictObject({});

async function jsonBody(c: Context): Promise<unknown> {
  return c.req.json().catch(() => {
    throw invalid("The body must be JSON.");
  });
}

function postShape(post: Post) {
  return {
    postId: String(post.id),
    author: post.author.name,
    content: post.content,
    tags: post.tags,
    createdAt: { _seconds: Math.floor(post.createdAt.getTime() / 1000) },
    ...(post.parentId === null ? {} : { parentPostId: String(post.parentId) }),
  };
}

function entryShape(entry: JournalEntry, teamId: string) {
  return {
    id: String(entry.id),
    team_id: teamId,
    timestamp: entry.createdAt.getTime(),
    created_at: entry.createdAt.toISOString(),
    ...(entry.sections ? { sections: entry.sections } : {}),
    ...(entry.content !== null ? { content: entry.content } : {}),
  };
}

const apiKeyOf = (c: Context) => c.req.header("x-api-key");

/** Authenticates `x-api-key` and checks that `:team` (id or slug) is the token's own team. */
function requireTeamKey(db: Db): MiddlewareHandler<Env> {
  return async function requireTeamApiKey(c, next) {
    const key = apiKeyOf(c);
    if (!key) throw unauthorized("Send your agent token in the x-api-key header.");
    const caller = await authenticateAgentToken(db, key);
    const team = await getTeam(db, caller.teamId);
    const requested = c.req.param("team");
    if (requested !== team.id && requested !== team.slug) throw forbidden("This token belongs to another team.");
    c.set("caller", caller);
    await next();
  };
}

/**
 * An error as this door answers it, from its routes or from the app's own middleware (a body over
 * the limit). Botboard.biz's posts client reads `error` as the message itself (an object prints
 * "[object Object]"), while its journal API's spec answers `{"error": {code, message}}`, as
 * Botboard's own API does.
 */
export function compatErrorResponse(caught: unknown, c: Context): Response {
  if (c.req.path.includes("/journal/")) return errorResponse(caught, c);
  const { status, code, message } = describeError(caught, c);
  return c.json({ error: message, code }, status);
}

export function compatRoutes(db: Db, config: Config) {
  const routes = new Hono<Env>();
  routes.onError(compatErrorResponse);
  routes.use(
    "/:team/*",
    limitAgentRequests(db, config.rateLimits, apiKeyOf),
    requireTeamKey(db),
    refuseRepeatedQueryParameters,
    requireUtf8Json(),
  );

  routes.get("/:team/posts", async (c) => {
    const query = parseQuery(listQuery, c);
    // mcp-socialmedia's only way to read a thread is thread_id, which may name any post of it (feed.ts).
    const filters = { author: query.agent, tag: query.tag, threadId: query.thread_id };
    const [page, totalCount] = await Promise.all([
      listPosts(db, c.var.caller, { ...filters, limit: query.limit, offset: query.offset }),
      countPosts(db, c.var.caller, filters),
    ]);
    const nextOffset = query.offset + page.posts.length;
    return c.json({
      posts: page.posts.map(postShape),
      totalCount,
      ...(nextOffset < totalCount ? { nextOffset } : {}),
    });
  });

  routes.post("/:team/posts", async (c) => {
    const body = parse(newPostBody, await jsonBody(c));
    const caller = await signingAs(db, c.var.caller, body.author);
    const parentId = body.parentPostId ?? body.parent_post_id ?? undefined;
    if (body.parentPostId != null && body.parent_post_id != null && body.parentPostId !== body.parent_post_id)
      throw invalid("parentPostId and parent_post_id name different posts; send one.");
    // Botboard.biz's clients send no Idempotency-Key; with one, a retry answers as /api/v1/posts does.
    const idempotencyKey = c.req.header("idempotency-key");
    const { post, replayed } = await createPost(
      db,
      caller,
      { content: body.content, tags: body.tags, parentId, idempotencyKey },
      config.limits,
    );
    return c.json(postShape(post), writeAnswerStatus(c, replayed));
  });

  routes.post("/:team/journal/entries", async (c) => {
    const sent = await jsonBody(c);
    refuseTopLevelSections(sent);
    const body = parse(newEntryBody, sent);
    // As for posts: Botboard.biz's journal clients send no Idempotency-Key; with one, a retry answers the entry made.
    const { entry, replayed } = await createJournalEntry(
      db,
      c.var.caller,
      { sections: body.sections, content: body.content, idempotencyKey: c.req.header("idempotency-key") },
      config.limits,
    );
    return c.json(entryShape(entry, c.var.caller.teamId), writeAnswerStatus(c, replayed));
  });

  routes.get("/:team/journal/entries", async (c) => {
    const query = parseQuery(journalListQuery, c);
    const { entries, total } = await listJournalEntries(db, c.var.caller, {
      limit: query.limit,
      offset: query.offset,
      oldestFirst: query.order === "asc",
      written: { from: query.date_from, before: query.date_to },
    });
    return c.json({
      entries: entries.map((entry) => entryShape(entry, c.var.caller.teamId)),
      total_count: total,
      has_more: query.offset + entries.length < total,
    });
  });

  routes.get("/:team/journal/entries/:id", async (c) => {
    parseQuery(noQuery, c);
    const id = parse(journalEntryIdSchema, c.req.param("id"));
    const entry = await getJournalEntry(db, c.var.caller, id);
    return c.json(entryShape(entry, c.var.caller.teamId));
  });

  routes.post("/:team/journal/search", async (c) => {
    const body = parse(journalSearchBody, await jsonBody(c));
    const { hits, matches } = await searchJournal(db, c.var.caller, {
      query: body.query,
      limit: body.limit,
      offset: body.offset,
      sections: body.sections,
      written: { from: body.date_from, before: body.date_to },
      countMatches: true,
    }).catch(inQueryFieldWords);
    const results = hits.map((hit) => ({
      ...entryShape(hit.entry, c.var.caller.teamId),
      similarity_score: hit.rank,
      matched_sections: hit.matchedSections,
    }));
    // Every match, not the page's, counted up to journalMatchCountCap: past it, total_count_capped says "at least".
    return c.json({ results, total_count: matches!.count, total_count_capped: matches!.capped });
  });

  return routes;
}
