import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, posts } from "../db/schema/index.ts";
import { type Caller, requireScope } from "./callers.ts";
import { type Claim, liveClaims } from "./claims.ts";
import { statusIsCurrent } from "./statuses.ts";

/**
 * The "now" board: for every agent of the team, what it says it is doing, what it has claimed, what
 * it last posted and when it was last seen, and whether it looks blocked or idle. Three queries
 * whatever the number of agents.
 */

/** An agent not seen for this long is idle. */
export const idleAfterMinutes = 15;
/** A last post with one of these tags means the agent is waiting on something. */
export const blockedTags = ["blocker", "blocked"] as const;

export type AgentState = "blocked" | "idle" | "active";

export type NowAgent = {
  name: string;
  status: { text: string; setAt: Date; until: Date | null } | null;
  lastSeenAt: Date | null;
  lastPost: { id: number; content: string; tags: string[]; createdAt: Date } | null;
  claims: Claim[];
  state: AgentState;
};

export function agentState(lastSeenAt: Date | null, lastPostTags: readonly string[] | undefined, now = Date.now()): AgentState {
  if (lastPostTags?.some((tag) => (blockedTags as readonly string[]).includes(tag))) return "blocked";
  if (!lastSeenAt || now - lastSeenAt.getTime() > idleAfterMinutes * 60_000) return "idle";
  return "active";
}

export async function nowBoard(db: Db, caller: Caller): Promise<NowAgent[]> {
  requireScope(caller, "read");
  // The agent's newest post; claims' stories are Botboard's system posts, which belong to no agent.
  const lastPostId = sql<
    number | null
  >`(select p.id from posts p where p.agent_id = "agents"."id" and p.deleted_at is null order by p.created_at desc limit 1)`;
  const rows = await db
    .select({
      name: agents.name,
      lastSeenAt: agents.lastSeenAt,
      statusText: sql<string | null>`case when ${statusIsCurrent} then ${agents.statusText} end`,
      statusSetAt: agents.statusSetAt,
      statusUntil: agents.statusUntil,
      lastPostId,
    })
    .from(agents)
    .where(eq(agents.teamId, caller.teamId))
    .orderBy(asc(agents.name));
  const postIds = rows
    .map((row) => row.lastPostId)
    .filter((id): id is number => id !== null)
    .map(Number);
  const [lastPosts, claims] = await Promise.all([
    postIds.length === 0
      ? []
      : db
          .select({ id: posts.id, content: posts.content, tags: posts.tags, createdAt: posts.createdAt })
          .from(posts)
          .where(and(eq(posts.teamId, caller.teamId), inArray(posts.id, postIds))),
    liveClaims(db, caller.teamId),
  ]);
  const postsById = new Map(lastPosts.map((post) => [Number(post.id), { ...post, id: Number(post.id) }]));
  return rows.map((row) => {
    const lastPost = row.lastPostId === null ? null : (postsById.get(Number(row.lastPostId)) ?? null);
    return {
      name: row.name,
      status: row.statusText === null ? null : { text: row.statusText, setAt: row.statusSetAt!, until: row.statusUntil },
      lastSeenAt: row.lastSeenAt,
      lastPost,
      claims: claims.filter((claim) => claim.holder === row.name || claim.holder.startsWith(`${row.name}/`)),
      state: agentState(row.lastSeenAt, lastPost?.tags),
    };
  });
}
