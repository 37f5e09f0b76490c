import { sql } from "drizzle-orm";
import { rowsOf, type Db } from "../db/client.ts";
import { posts } from "../db/schema/index.ts";
import { shownClaimPath } from "./claim-paths.ts";
import { systemAuthorName } from "./names.ts";
import { announceNewPosts } from "./post-announcements.ts";
import { searchTermsOf, searchTermsVector } from "./search-terms.ts";

/**
 * A claim's story in the feed, told by Botboard itself: system posts, one thread per claim, that
 * name who acted. What the holder wrote (the reason) is quoted, never spoken in Botboard's voice.
 * Claims are named "claim 3" there, never "claim #3": the feed links "#3" to post 3.
 */

/** The tag of the feed posts that tell claims' stories. */
const claimTag = "claim";

type ToldClaim = { id: number; holder: string; paths: readonly string[]; threadId: number | null };

export const quotedPaths = (paths: readonly string[]) => paths.map((path) => `\`${shownClaimPath(path)}\``).join(", ");

/**
 * Writes a system note in the claim's thread (a new thread when `threadId` is null) and returns its
 * id. `mention` addresses it to an agent (it reaches that agent first, as "FOR YOU (mention)").
 */
export async function writeClaimNote(
  db: Db,
  teamId: string,
  content: string,
  threadId: number | null,
  mention?: { name: string; agentId: string },
): Promise<number> {
  const [post] = await db
    .insert(posts)
    .values({
      teamId,
      authorKind: "system",
      authorName: systemAuthorName,
      content,
      tags: [claimTag],
      parentId: threadId,
      rootId: threadId,
      mentions: mention ? [mention.name] : [],
      mentionedAgentIds: mention ? [mention.agentId] : [],
      searchTerms: sql`${searchTermsVector(searchTermsOf({ texts: [content], tags: [claimTag], authorName: systemAuthorName }))}::tsvector`,
    })
    .returning({ id: posts.id });
  return Number(post!.id);
}

export function claimedNote(claim: ToldClaim & { reason: string; exclusive: boolean; expiresAt: Date }, minutes: number): string {
  const what = claim.exclusive ? "claimed" : "noted intent to edit (not exclusive)";
  return `${claim.holder} ${what} ${quotedPaths(claim.paths)} for ${minutes} min (claim ${claim.id}, until ${claim.expiresAt.toISOString()}). Reason, in their words: ${JSON.stringify(claim.reason)}`;
}

export type ClaimEnd = "expired" | "token revoked" | "token expired";

function endedNote(claim: ToldClaim & { expiresAt: Date }, how: ClaimEnd): string {
  const why =
    how === "expired"
      ? `expired at ${claim.expiresAt.toISOString()}`
      : how === "token revoked"
        ? "ended: the token that made it was revoked"
        : "ended: the token that made it expired";
  return `claim ${claim.id} of ${claim.holder} on ${quotedPaths(claim.paths)} ${why}`;
}

export type EndedRow = {
  id: number | string;
  team_id: string;
  agent_id: string;
  holder_name: string;
  paths: string[];
  expires_at: Date | string;
  thread_post_id: number | string | null;
  how: ClaimEnd;
};

/**
 * Tells the feed about every claim (of one team, or of all) that ended on its own since the last
 * time: expired, or its token revoked or expired. Each end is told once, however many server
 * processes sweep at the same moment: the rows are taken with FOR UPDATE SKIP LOCKED and marked
 * told in the same statement, whose conditions Postgres checks again on the locked row, and the
 * notes are written in that transaction. Returns how many ends were told.
 */
export async function tellEndedClaims(db: Db, teamId?: string): Promise<number> {
  const told = await db.transaction((tx) => tellEndedClaimsWithin(tx, teamId));
  for (const team of new Set(told.map((row) => row.team_id))) announceNewPosts(db, team);
  return told.length;
}

/** The same inside the caller's transaction, which announces the returned rows' teams once it commits. */
export async function tellEndedClaimsWithin(tx: Db, teamId?: string): Promise<EndedRow[]> {
  const ofTeam = teamId === undefined ? sql`true` : sql`c.team_id = ${teamId}`;
  const ended = await tx.execute<EndedRow>(sql`
    with ended as (
      select c.id,
        case when c.expires_at <= now() then 'expired'
             when t.revoked_at is not null then 'token revoked'
             else 'token expired' end as how
      from claims c join agent_tokens t on t.id = c.token_id
      where ${ofTeam} and c.released_at is null and c.end_told_at is null
        and (c.expires_at <= now() or t.revoked_at is not null or t.expires_at <= now())
      order by c.id
      for update of c skip locked
    )
    update claims set end_told_at = now()
    from ended
    where claims.id = ended.id and claims.end_told_at is null and claims.released_at is null
    returning claims.id, claims.team_id, claims.agent_id, claims.holder_name, claims.paths, claims.expires_at,
      claims.thread_post_id, ended.how`);
  // postgres-js returns the rows as the result; PGlite wraps them in `rows`.
  const rows = rowsOf<EndedRow>(ended);
  for (const row of [...rows].sort((a, b) => Number(a.id) - Number(b.id))) {
    const claim = {
      id: Number(row.id),
      holder: row.holder_name,
      paths: row.paths,
      threadId: row.thread_post_id === null ? null : Number(row.thread_post_id),
      expiresAt: new Date(row.expires_at),
    };
    // The holder's agent is told first: its plan may rest on a claim it no longer holds.
    await writeClaimNote(tx, row.team_id, endedNote(claim, row.how), claim.threadId, { name: claim.holder, agentId: row.agent_id });
  }
  return rows;
}
