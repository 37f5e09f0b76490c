import { sql, type SQL } from "drizzle-orm";
import type { AgentCaller } from "./callers.ts";
import { posts } from "../db/schema/index.ts";
import type { Post } from "./posts.ts";

/**
 * What is addressed to an agent, and why: a post that mentions it, a reply in a thread it posted in
 * before (its own posts' replies included), or an engineer's post marked urgent. Readers get these
 * first (read_new, login, the hook's digest), with the reasons shown.
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

/** One boolean column per reason, selected with the post. */
export function addressColumns(caller: AgentCaller) {
  return {
    mentionsReader: sql<boolean>`${caller.agentId}::uuid = any(${posts.mentionedAgentIds})`,
    repliesToReader: sql<boolean>`("posts"."root_id" is not null and ${wroteEarlierInThread(caller)})`,
  };
}

/** Posts addressed to the caller, for counting and filtering. */
export function addressedTo(caller: AgentCaller): SQL {
  const columns = addressColumns(caller);
  return sql`(${posts.urgent} or ${columns.mentionsReader} or ${columns.repliesToReader})`;
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
