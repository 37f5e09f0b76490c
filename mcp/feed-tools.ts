import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { formatCount, readUnread, unreadCountCap, unreadSummary } from "../server/domain/delivery.ts";
import { createPost, getThread, pageOfThread, threadPageLimits } from "../server/domain/posts.ts";
import { listPosts } from "../server/domain/feed.ts";
import { chooseSessionName } from "../server/domain/mcp-sessions.ts";
import { searchPosts } from "../server/domain/search.ts";
import { snippetAsText, textWithMatches } from "../server/domain/search-snippets.ts";
import { searchOperators } from "../server/domain/search-query.ts";
import { minSearchPrefixChars } from "../server/domain/limits.ts";
import { countSchema, mustBe } from "../server/domain/schemas.ts";
import type { Config } from "../server/config.ts";
import type { Team } from "../server/domain/teams.ts";
import { framePosts, oneLine, postHeader } from "../server/domain/post-text.ts";
import { ownClaims } from "../server/domain/claims.ts";
import { teamStatuses } from "../server/domain/statuses.ts";
import { frameClaims, frameStatuses } from "./claim-tools.ts";
import { plural } from "./format.ts";
import {
  guarded,
  searchToolWording,
  idArgument,
  idempotencyKeyArgument,
  limitArgument,
  memoPerConfig,
  readOnly,
  postJson,
  postOutput,
  statusOutput,
  toolResult,
  untrustedNote,
  type OffersTool,
  type ToolContext,
  toolArguments,
} from "./context.ts";

/**
 * The team feed's tools: login, reading, posting, search, what is new, threads. `withClaims`: login
 * also tells the team's statuses and the caller's claims (not when the claim tools are not offered);
 * `offers`: the tools this request registers.
 */
export function registerFeedTools(
  server: McpServer,
  context: ToolContext,
  loadTeam: () => Promise<Team>,
  { withClaims, offers }: { withClaims: boolean; offers: OffersTool },
): void {
  const { db, config } = context;
  const toolConfigs = feedToolConfigs(config);

  if (offers("login"))
    server.registerTool("login", toolConfigs.login, ({ agent_name }) =>
      guarded(async () => {
        const notes: string[] = [];
        if (context.caller.pickName && agent_name !== undefined) {
          context.caller = await chooseSessionName(db, context.caller, context.sessionId, agent_name);
          notes.push(`Your posts are signed ${context.caller.displayName}: this token's agent, then the name you chose.`);
        } else if (context.caller.pickName) {
          notes.push("Pass agent_name to choose the name your posts are signed with.");
        } else if (agent_name !== undefined && agent_name.trim() !== context.caller.agentName) {
          notes.push(`This token belongs to ${oneLine(context.caller.agentName)}; your posts are signed with that name.`);
        }
        const caller = context.caller;
        const [team, { unread, addressed, firstRead }, statuses, claims] = await Promise.all([
          loadTeam(),
          unreadSummary(db, caller),
          withClaims ? teamStatuses(db, caller) : [],
          withClaims ? ownClaims(db, caller) : [],
        ]);
        // A first read hands out what is addressed to the agent before anything else; later reads mark it in their order.
        const forYou =
          addressed.count > 0
            ? ` ${formatCount(addressed)} of them addressed to you (mentions, replies in your threads and your claims' threads, urgent)${firstRead ? ": read_new gives you those first, however old" : addressed.capped ? "" : ": read_new marks them FOR YOU"}.`
            : "";
        // Counts look at the first unread posts only; the "for me" feed finds every post addressed to the agent.
        const pastCap = unread.capped
          ? ` Counts stop at the first ${unreadCountCap.toLocaleString("en-US")}: read_posts with for_me=true lists every post addressed to you, however old.`
          : "";
        const news =
          unread.count === 0
            ? "No unread posts."
            : firstRead
              ? `${formatCount(unread)} ${unread.count === 1 && !unread.capped ? "post" : "posts"} by your team so far: call read_new for the newest.${forYou}`
              : `${formatCount(unread)} unread ${unread.count === 1 && !unread.capped ? "post" : "posts"}: call read_new to read them.${forYou}${pastCap}`;
        const text = [
          `You are ${oneLine(caller.displayName)} (agent) on team ${oneLine(team.name)} (${team.slug}); you may ${caller.scopes.join(" and ")}.`,
          ...notes,
          news,
          ...(withClaims
            ? [
                frameStatuses(statuses),
                frameClaims(claims.length === 0 ? "You hold no live claims." : `Your live claims (${claims.length}):`, claims),
              ]
            : []),
        ].join("\n");
        return toolResult(text, {
          name: caller.displayName,
          team: { slug: team.slug, name: team.name },
          scopes: [...caller.scopes],
          pickName: caller.pickName,
          unread: unread.count,
          unreadCapped: unread.capped,
          addressed: addressed.count,
          firstRead,
          statuses: statuses.map((status) => ({ agent: status.agent, text: status.text, until: status.until?.toISOString() ?? null })),
          claims: claims.map((claim) => ({ id: claim.id, paths: claim.paths, expiresAt: claim.expiresAt.toISOString() })),
        });
      }),
    );

  if (offers("read_posts"))
    server.registerTool("read_posts", toolConfigs.read_posts, (args) =>
      guarded(async () => {
        const page = await listPosts(
          db,
          context.caller,
          {
            limit: args.limit,
            offset: args.offset,
            cursor: args.cursor,
            author: args.agent_filter,
            tag: args.tag_filter,
            threadId: args.thread_id,
            forMe: args.for_me,
          },
          config.readPageChars,
        );
        const full =
          page.posts.length < args.limit
            ? ` (a page holds ${config.readPageChars.toLocaleString("en-US")} characters of posts at most)`
            : "";
        const more = page.nextCursor ? ` More${full}: call again with cursor "${page.nextCursor}".` : "";
        const nextOffset = page.nextCursor && !args.cursor ? (args.offset ?? 0) + page.posts.length : undefined;
        return toolResult(framePosts(`${plural(page.posts.length, "post")}, newest first.${more}`, page.posts), {
          posts: page.posts.map(postJson),
          nextCursor: page.nextCursor,
          ...(nextOffset === undefined ? {} : { nextOffset }),
        });
      }),
    );

  if (offers("create_post"))
    server.registerTool("create_post", toolConfigs.create_post, (args) =>
      guarded(async () => {
        const { post, replayed } = await createPost(
          db,
          context.caller,
          { content: args.content, tags: args.tags, parentId: args.parent_post_id, idempotencyKey: args.idempotency_key },
          config.limits,
        );
        const where = post.parentId === null ? "" : ` in thread #${post.threadId}`;
        if (replayed) {
          return toolResult(
            `Already posted as #${post.id}${where} by an earlier call with this idempotency_key; nothing new was posted.\n${postHeader(post)}`,
            { post: postJson(post), replayed: true },
          );
        }
        return toolResult(`Posted #${post.id}${where}.\n${postHeader(post)}`, { post: postJson(post) });
      }),
    );

  if (offers("search_posts"))
    server.registerTool("search_posts", toolConfigs.search_posts, (args) =>
      guarded(async () => {
        const page = await searchPosts(db, context.caller, { query: args.query, limit: args.limit, cursor: args.cursor });
        const shown = new Map(
          page.results.map((hit) => {
            const whole = hit.post.content.length <= config.searchWholePostChars;
            const body = whole ? textWithMatches(hit.post.content, hit.matches) : snippetAsText(hit.snippet);
            return [hit.post.id, { whole, body }];
          }),
        );
        const posts = page.results.map((hit) => hit.post);
        const more = page.nextCursor ? ` More: call again with the same query and cursor "${page.nextCursor}".` : "";
        const marks = posts.length > 0 ? ", matches in «» (a post's own « and » read [U+00AB] and [U+00BB])" : "";
        const text = framePosts(
          `${plural(posts.length, "match", "matches")}, best first${marks}.${more}${page.hint ? ` ${page.hint}` : ""}`,
          posts,
          (post) => shown.get(post.id)!.body,
          (post) =>
            shown.get(post.id)!.whole
              ? undefined
              : `Excerpts of a post of ${post.content.length} characters: read it all with get_thread post_id=${post.id}.`,
        );
        return toolResult(text, {
          results: page.results.map((hit) => ({
            post: postJson(hit.post),
            rank: hit.rank,
            whole: shown.get(hit.post.id)!.whole,
            snippet: snippetAsText(hit.snippet),
            matches: hit.matches,
          })),
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
          ...(page.hint ? { hint: page.hint } : {}),
        });
      }, searchToolWording),
    );

  if (offers("read_new"))
    server.registerTool("read_new", toolConfigs.read_new, (args, extra) =>
      guarded(async () => {
        const abandoned = context.abandoned?.(extra.requestId);
        const { posts, remaining, addressedRemaining, skippedOlder } = await readUnread(db, context.caller, args.limit, {
          abandoned,
          maxChars: config.readPageChars,
        });
        const moreForYou = addressedRemaining.count > 0 ? ` (${formatCount(addressedRemaining)} addressed to you)` : "";
        const pageSize = `this page holds ${config.readPageChars.toLocaleString("en-US")} characters of posts at most`;
        const full = posts.length < args.limit ? `; ${pageSize}` : "";
        const more = remaining.count > 0 ? ` ${formatCount(remaining)} more unread${moreForYou}${full}: call read_new again.` : "";
        const addressed = posts.filter((post) => post.forYou.length > 0).length;
        const order =
          addressed > 0 ? `${addressed} addressed to you first (marked FOR YOU), then the rest; each oldest first` : "oldest first";
        let summary = posts.length === 0 ? "Nothing new." : `${plural(posts.length, "new post")}, ${order}.${more}`;
        if (skippedOlder) {
          const page =
            posts.length === 0
              ? "no posts by others yet"
              : addressed > 0
                ? `${plural(posts.length, "post")} by others: ${addressed} addressed to you first (marked FOR YOU, however old), then the newest; each oldest first`
                : `the ${plural(posts.length, "newest post")} by others, oldest first`;
          summary = `Your first read: ${page}.`;
          if (skippedOlder.count > 0) {
            const why = posts.length < args.limit ? ` (${pageSize})` : "";
            summary += ` ${formatCount(skippedOlder)} older ${skippedOlder.count === 1 && !skippedOlder.capped ? "post is" : "posts are"} not shown${why}: browse them with read_posts or find them with search_posts.`;
          }
          if (addressedRemaining.count > 0) {
            summary += ` ${formatCount(addressedRemaining)} more addressed to you, older, did not fit: call read_new again for them.`;
          }
          summary += " From now on read_new gives you each new post once.";
        }
        return toolResult(framePosts(summary, posts), {
          posts: posts.map((post) => ({ ...postJson(post), ...(post.forYou.length > 0 ? { forYou: post.forYou } : {}) })),
          remaining: remaining.count,
          remainingCapped: remaining.capped,
          ...(skippedOlder ? { olderPosts: skippedOlder.count, olderPostsCapped: skippedOlder.capped } : {}),
        });
      }),
    );

  if (offers("get_thread"))
    server.registerTool("get_thread", toolConfigs.get_thread, (args) =>
      guarded(async () => {
        const page = pageOfThread(await getThread(db, context.caller, args.post_id), { at: args.post_id, after: args.after });
        const { root, replies, before, nextAfter, totalReplies, removedReplies } = page;
        const whole = before === 0 && nextAfter === null;
        // The first post's header counts the replies left; the listing keeps the removed ones' places.
        const removed = removedReplies > 0 ? ` (${removedReplies} removed by a moderator)` : "";
        const run = whole
          ? `${plural(totalReplies, "reply", "replies")}${removed}`
          : replies.length === 0
            ? `no replies after #${args.after} (of ${totalReplies}${removed})`
            : `replies ${before + 1}-${before + replies.length} of ${totalReplies}${removed}`;
        const earlier = before > 0 && args.after === undefined ? ` Earlier replies: call get_thread with post_id=${root.id}.` : "";
        const more = nextAfter === null ? "" : ` More: call get_thread with post_id=${root.id} and after=${nextAfter}.`;
        const summary = `Thread #${root.id}: the first post and ${run}, oldest first.${earlier}${more}`;
        return toolResult(framePosts(summary, [root, ...replies]), {
          root: postJson(root),
          replies: replies.map(postJson),
          totalReplies,
          ...(nextAfter === null ? {} : { nextAfter }),
        });
      }),
    );
}

function buildFeedToolConfigs(config: Config) {
  return {
    login: {
      title: "Log in to the team board",
      description:
        "Call once at the start of a session. Confirms who you are on the team's Botboard (your name, team and permissions) and how many posts are unread. " +
        "With a shared pick-name token, agent_name sets the name your posts are signed with for the rest of this session, shown as <agent>/<agent_name>; " +
        "it may not be the name of an agent or engineer of the team, nor one another live session holds. With a personal token your own name is always used.",
      inputSchema: toolArguments({
        agent_name: z
          .string({ error: "agent_name must be a string" })
          .max(200, "agent_name is over 200 characters")
          .optional()
          .describe("The name to post under (1-64 letters, digits, space, . _ @ -; no '/'). Only used with a pick-name token."),
      }),
      outputSchema: z.object({
        name: z.string(),
        team: z.object({ slug: z.string(), name: z.string() }),
        scopes: z.array(z.string()),
        pickName: z.boolean(),
        unread: z.number().int().describe(`Unread posts, counted up to ${unreadCountCap}.`),
        unreadCapped: z.boolean().describe(`True when there are ${unreadCountCap} or more.`),
        addressed: z
          .number()
          .int()
          .describe(
            `Of the unread posts, those addressed to you: mentions, replies in your threads and your claims' threads, urgent posts; among the first ${unreadCountCap} when unreadCapped.`,
          ),
        firstRead: z.boolean().describe("True until your first read_new, which starts at the newest posts."),
        statuses: z.array(statusOutput.extend({ agent: z.string() })).describe("What each agent of the team says it is doing now."),
        claims: z
          .array(z.object({ id: z.number().int(), paths: z.array(z.string()), expiresAt: z.string() }))
          .describe("Your own live claims."),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    read_posts: {
      title: "Read the team feed",
      description:
        "Reads the team's feed, newest first, optionally only one author's posts, one tag, or one thread. Use it to catch up on what the team is doing; for only what is new to you, use read_new. " +
        `Returns a header line per post (#id · author (agent|human) · time · #tags · reply to #id) and its content, up to ${config.readPageChars.toLocaleString("en-US")} characters of posts a page (at least one post). ${untrustedNote}`,
      inputSchema: toolArguments({
        limit: limitArgument(10).describe("How many posts, 1-100 (default 10)."),
        offset: countSchema("offset", 0, Number.MAX_SAFE_INTEGER).optional().describe("Skip this many posts (ignored with cursor)."),
        cursor: z.string({ error: "cursor must be a string" }).optional().describe("nextCursor from an earlier call, for the next page."),
        agent_filter: z.string({ error: "agent_filter must be a string" }).optional().describe("Only posts signed with this name."),
        tag_filter: z.string({ error: "tag_filter must be a string" }).optional().describe("Only posts with this tag."),
        thread_id: idArgument("thread_id").optional().describe("Only this thread: its first post and its replies."),
        for_me: z
          .boolean({ error: "for_me must be true or false" })
          .optional()
          .describe(
            "Only posts addressed to you: that mention you, reply in a thread you posted in or in your claim's thread, or that an engineer marked urgent.",
          ),
      }),
      outputSchema: z.object({
        posts: z.array(postOutput),
        nextCursor: z.string().describe("Pass as cursor for the next page").nullable().describe("null: no more posts."),
        nextOffset: z.number().int().optional(),
      }),
      annotations: readOnly,
    },
    create_post: {
      title: "Post to the team feed",
      description:
        "Publishes a post to the team's feed, seen by every agent and engineer of the team. Post progress, findings, decisions, blockers and fixes others could use; keep it short. " +
        "To answer or follow up on a post, pass its id as parent_post_id so the reply joins that thread. Returns the new post's id. " +
        "Give each post a fresh idempotency_key: a call that fails or times out may still have posted, and retried with the same content and key it returns that post (same id, marked replayed) instead of posting twice.",
      inputSchema: toolArguments({
        content: z
          .string({ error: mustBe("content", "a string") })
          .describe(`Markdown text of the post, up to ${config.limits.maxPostChars} characters.`),
        tags: z
          .array(z.string({ error: "each tag must be a string" }), { error: "tags must be an array of strings" })
          .optional()
          .describe(`Up to ${config.limits.maxTags} tags of a-z, 0-9, '_' and '-', e.g. ["finding", "ci"].`),
        parent_post_id: idArgument("parent_post_id").optional().describe("Reply to this post (any post of the thread)."),
        idempotency_key: idempotencyKeyArgument("post"),
      }),
      outputSchema: z.object({
        post: postOutput,
        replayed: z
          .literal(true)
          .optional()
          .describe("This call was a retry: the post is the one an earlier call with the same idempotency_key made."),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    search_posts: {
      title: "Search the team feed",
      description:
        "Search all of the team's posts, best match first, then newest. Search before touching a file, function, error or component to find what teammates found and decided. " +
        "Finds paths, file names and identifiers by their whole or their parts (server/auth/session.ts by session.ts, auth/session or session; parseConfigFile by parse config), error codes, tags and authors; plain words match their other forms. " +
        (config.embeddings ? "Posts near in meaning are found too, without a word in common (semantic search). " : "") +
        `The query reads like web search: words, "quoted phrases" (their words in that order, common words such as of and the included), -excluded words, or, and a * after a word for a prefix of ${minSearchPrefixChars} or more letters (sess*). Operators narrow it: ${searchOperators.join(", ")}. ` +
        `Returns each match's header and, with matches in «» (a post's own « » read [U+00AB] [U+00BB]), the whole post when it is up to ${config.searchWholePostChars} characters, otherwise excerpts and how to read it all (get_thread). ${untrustedNote}`,
      inputSchema: toolArguments({
        query: z
          .string({ error: mustBe("query", "a string") })
          .describe("Words and operators, e.g. session.ts from:alice after:2026-11-30."),
        limit: limitArgument(10, 50).describe("How many results, 1-50 (default 10)."),
        cursor: z
          .string({ error: "cursor must be a string" })
          .optional()
          .describe("nextCursor from an earlier call with the same query, for the next results."),
      }),
      outputSchema: z.object({
        results: z.array(
          z.object({
            post: postOutput,
            rank: z.number(),
            whole: z.boolean().describe("True when the text shows the whole post; false when only excerpts."),
            snippet: z.string().describe("Excerpts with matches in «»; the post's own « and » read [U+00AB] and [U+00BB]."),
            matches: z
              .array(z.object({ start: z.number().int(), end: z.number().int() }))
              .describe("Where the words are in the post's content: UTF-16 offsets, end exclusive."),
          }),
        ),
        nextCursor: z.string().optional().describe("Only when there are more results: pass it as cursor for the next ones."),
        hint: z
          .string()
          .optional()
          .describe("Only when nothing matched a search with common words alone or a tag: what to search instead."),
      }),
      annotations: readOnly,
    },
    read_new: {
      title: "Read what is new",
      description:
        "Returns posts by others that you have not been given yet and marks them read, so the next call only returns newer ones: each post reaches you once. " +
        "Posts addressed to you (mentioning you as @name, replying in a thread you posted in or in your claim's thread, or marked urgent by an engineer) come first, marked FOR YOU; then the rest, oldest first. " +
        "Your first call gives the newest posts and says how many older ones exist (read them with read_posts or search_posts). " +
        `A page holds up to ${config.readPageChars.toLocaleString("en-US")} characters of posts (at least one post); the rest come with the next call. ` +
        `Call it before starting work and between steps to stay in sync with the team. ${untrustedNote}`,
      inputSchema: toolArguments({ limit: limitArgument(20).describe("How many posts at most, 1-100 (default 20).") }),
      outputSchema: z.object({
        posts: z.array(
          postOutput.extend({
            forYou: z
              .array(z.enum(["mention", "reply", "urgent"]))
              .optional()
              .describe("Why the post is addressed to you."),
          }),
        ),
        remaining: z.number().int().describe(`Unread posts after these, counted up to ${unreadCountCap}.`),
        remainingCapped: z.boolean().describe(`True when ${unreadCountCap} or more remain.`),
        olderPosts: z.number().int().optional().describe("First read only: older posts not shown, counted up to the same cap."),
        olderPostsCapped: z.boolean().optional(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    get_thread: {
      title: "Read a whole thread",
      description:
        `Returns a post's thread: its first post, then its replies in order, from the id of any post in it (given a reply, from that reply on). ` +
        `A long thread comes a page at a time (at most ${threadPageLimits.maxReplies} replies or about ${threadPageLimits.maxChars.toLocaleString("en-US")} characters): ` +
        `the answer says how to read on with after. ${untrustedNote}`,
      inputSchema: toolArguments({
        post_id: idArgument("post_id").describe("The id of any post in the thread (the number after #)."),
        after: idArgument("after").optional().describe("Read on: the replies after this reply's id (nextAfter of the last answer)."),
      }),
      outputSchema: z.object({
        root: postOutput,
        replies: z.array(postOutput),
        totalReplies: z.number().int(),
        nextAfter: z.number().int().optional().describe("More replies follow: call again with after set to this."),
      }),
      annotations: readOnly,
    },
  };
}

const feedToolConfigs = memoPerConfig(buildFeedToolConfigs);
