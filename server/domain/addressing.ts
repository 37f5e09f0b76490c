import { sql, type SQL } from "drizzle-orm";
import type { AgentCaller } from "./callers.ts";
import { posts } from "../db/schema/index.ts";
import type { Post } from "./posts.ts";

/**
 * What is addressed to an agent, and why: a post that mentions it, a reply in a thread it posted in
 * before (its own posts' replies included) or in the thread of a claim it made (where a refused
 * teammate is told to ask it), or an engineer's post marked urgent. Readers get these first
 * (read_new, login, the hook's digest), with the reasons shown.
 */

export type AddressReason = "mention" | "reply" | "urgent";

/** A post as delivered to one agent: why it is addressed to it, if it is. */
export type AddressedPost = Post & { forYou: AddressReason[] };

/** The caller posted earlier in this post's thread (as its posts are signed: a pick-name session by its own name). */
function wroteEarlierInThread(caller: AgentCaller): SQL {
  // Spelled "posts"."column": a selected expression names its columns without the table, and inside
  // the subquery a bare name would mean the subquery's own row.
  return sql`exists (select 1 from posts mine
    where mine.team_id = "posts"."team_id"
      and (mine.id = "posts"."root_id" or mine.root_id = "posts"."root_id")
      and mine.id < "posts"."id"
      and mine.agent_id = ${caller.agentId}
      and mine.author_name = ${caller.displayName})`;
}

/**
 * An agent's or engineer's post in the thread that tells a claim the caller made (as its claims are
 * held: a pick-name session by its own name). Botboard's own notes there are not: the holder's own
 * renewals and releases are no news to it, and an end it did not choose mentions it already.
 */
function postedInHeldClaimThread(caller: AgentCaller): SQL {
  return sql`("posts"."author_kind" <> 'system' and exists (select 1 from claims held
    where held.agent_id = ${caller.agentId}
      and held.thread_post_id = "posts"."root_id"
      and held.holder_name = ${caller.displayName}))`;
}

/** One boolean column per reason, selected with the post. */
export function addressColumns(caller: AgentCaller) {
  return {
    mentionsReader: sql<boolean>`${caller.agentId}::uuid = any(${posts.mentionedAgentIds})`,
    repliesToReader: sql<boolean>`("posts"."root_id" is not null and (${wroteEarlierInThread(caller)} or ${postedInHeldClaimThread(caller)}))`,
  };
}

/** Posts someone other than this reader wrote: another agent, or another session signing for the same one. */
export function writtenByOthers(caller: AgentCaller): SQL {
  return sql`(${posts.agentId} is distinct from ${caller.agentId} or ${posts.authorName} <> ${caller.displayName})`;
}

/** Posts addressed to the caller, row by row: for a bounded set of posts (a count stops at a cap). */
export function addressedTo(caller: AgentCaller): SQL {
  const columns = addressColumns(caller);
  return sql`(${posts.urgent} or ${columns.mentionsReader} or ${columns.repliesToReader})`;
}

/**
 * The ids of the posts `where` selects that are addressed to the agent (those of `addressedTo`),
 * found from their sources by index: urgent posts, posts mentioning the agent, replies in the
 * threads it posted in and in its claims' threads. The feed narrowed to what is for an agent reads those posts only, rather than
 * the team's feed until it has found a page (all of it, for an agent few posts are addressed to).
 * The mentions and the agent's threads are looked up first (materialized), so the plan does not hang
 * on how many posts the planner guesses `where` selects.
 */
export function addressedAmong(caller: AgentCaller, where: SQL): SQL {
  return sql`with mentioning as materialized (
      select id from posts
      where mentioned_agent_ids <> '{}'::uuid[] and mentioned_agent_ids @> array[${caller.agentId}::uuid]),
    threads as materialized (
      select coalesce(root_id, id) as root_id, min(id) as first_id from posts
      where agent_id = ${caller.agentId} and author_name = ${caller.displayName}
      group by 1),
    claim_threads as materialized (
      select thread_post_id as root_id from claims
      where agent_id = ${caller.agentId} and holder_name = ${caller.displayName} and thread_post_id is not null)
    select posts.id from posts where ${where} and posts.urgent
    union
    select posts.id from mentioning join posts on posts.id = mentioning.id where ${where}
    union
    select posts.id from threads join posts on posts.root_id = threads.root_id and posts.id > threads.first_id where ${where}
    union
    select posts.id from claim_threads join posts on posts.root_id = claim_threads.root_id
    where ${where} and posts.author_kind <> 'system'`;
}

export function reasonsOf(row: { urgent: boolean; mentionsReader: boolean; repliesToReader: boolean }): AddressReason[] {
  const reasons: AddressReason[] = [];
  if (row.mentionsReader) reasons.push("mention");
  if (row.repliesToReader) reasons.push("reply");
  if (row.urgent) reasons.push("urgent");
  return reasons;
}

/** Addressed posts first, each group keeping its order. */
export function addressedFirst<T extends { forYou: AddressReason[] }>(delivered: readonly T[]): T[] {
  return [...delivered.filter((post) => post.forYou.length > 0), ...delivered.filter((post) => post.forYou.length === 0)];
}
