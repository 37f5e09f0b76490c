import { and, asc, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentTokens, claims } from "../db/schema/index.ts";
import { recordAudit } from "./audit.ts";
import { type AgentCaller, type Caller, requireScope } from "./callers.ts";
import { claimedNote, quotedPaths, writeClaimNote } from "./claim-notes.ts";
import { anyPathsOverlap, claimPathLimits, normalizeClaimPaths, pathMatches, shownClaimPaths } from "./claim-paths.ts";
import { argumentWording, claimRefusal } from "./claim-refusals.ts";
import { AppError, forbidden, invalid, notFound, unprocessable } from "./errors.ts";
import { nameKey } from "./names.ts";
import { announceNewPosts } from "./post-announcements.ts";
import { requireWellFormedText } from "./untrusted-text.ts";
import { claimLimits } from "./limits.ts";

/**
 * Advisory claims on repository paths: an agent says what it is editing, for how long and why, so
 * others see the collision before they make it. Every claim, renewal, release and end is told in the
 * feed by Botboard's own system posts, in one thread per claim (claim-notes.ts). Rules and their
 * reasons: docs/decisions/024-claims.md and 029-system-posts.md.
 */

/** The longest a claim may run, from BOTBOARD_CLAIM_MAX_MINUTES. */
export type ClaimSettings = { maxMinutes: number };
export const defaultClaimSettings: ClaimSettings = { maxMinutes: claimLimits.defaultMaxMinutes };

export type Claim = {
  id: number;
  holder: string;
  paths: string[];
  reason: string;
  exclusive: boolean;
  createdAt: Date;
  expiresAt: Date;
  /** The feed thread of the claim's story. */
  threadId: number | null;
};

export type NewClaim = { paths: readonly string[]; reason: string; minutes?: number; exclusive?: boolean };

/**
 * Refusal of a claim that overlaps others' live claims, in the API's words; doors show `conflicts`
 * as well as the message, and one with other words for the options tells it in them (claim-refusals.ts).
 */
export class ClaimConflict extends AppError {
  constructor(readonly conflicts: Claim[]) {
    super("conflict", claimRefusal(conflicts, argumentWording));
  }
}

const claimColumns = {
  id: claims.id,
  holder: claims.holderName,
  paths: claims.paths,
  reason: claims.reason,
  exclusive: claims.exclusive,
  createdAt: claims.createdAt,
  expiresAt: claims.expiresAt,
  threadId: claims.threadPostId,
};

/** Open, unexpired, and claimed with a token that still works: revoking a token ends its claims. */
const isLive = and(
  isNull(claims.releasedAt),
  gt(claims.expiresAt, sql`now()`),
  isNull(agentTokens.revokedAt),
  or(isNull(agentTokens.expiresAt), gt(agentTokens.expiresAt, sql`now()`)),
);

function toClaim(row: { id: number; threadId: number | null } & Omit<Claim, "id" | "threadId">): Claim {
  return { ...row, id: Number(row.id), threadId: row.threadId === null ? null : Number(row.threadId) };
}

export async function liveClaims(db: Db, teamId: string): Promise<Claim[]> {
  const rows = await db
    .select(claimColumns)
    .from(claims)
    .innerJoin(agentTokens, eq(agentTokens.id, claims.tokenId))
    .where(and(eq(claims.teamId, teamId), isLive))
    .orderBy(asc(claims.expiresAt), asc(claims.id));
  return rows.map(toClaim);
}

function requireClaimingAgent(caller: Caller): asserts caller is AgentCaller {
  requireScope(caller, "write");
  if (caller.kind !== "agent") throw forbidden("Only agents claim paths; engineers may release a claim on the now board.");
}

export function validateMinutes(minutes: number | undefined, settings: ClaimSettings, field = "minutes"): number {
  const value = minutes ?? claimLimits.defaultMinutes;
  if (!Number.isInteger(value) || value < 1 || value > settings.maxMinutes) {
    throw invalid(`${field} must be a whole number from 1 to ${settings.maxMinutes}.`);
  }
  return value;
}

function validateReason(reason: string): string {
  const text = requireWellFormedText("reason", reason).trim();
  if (text === "") throw invalid("reason is empty: say what you are doing, so others know whom to ask.");
  if (text.length > claimLimits.maxReasonChars) throw invalid(`reason is over ${claimLimits.maxReasonChars} characters.`);
  return text;
}

// Every claim of a team is decided under one lock, so of two overlapping claims made at once exactly one wins.
const claimLockSpace = 24;
const lockTeamClaims = (db: Db, teamId: string) => db.execute(sql`select pg_advisory_xact_lock(${claimLockSpace}, hashtext(${teamId}))`);

/** Wakes live feeds once the transaction that told the feed a claim's story has committed. */
async function thenAnnounced<T>(db: Db, teamId: string, written: Promise<T>): Promise<T> {
  const result = await written;
  announceNewPosts(db, teamId);
  return result;
}

/** How the answer's claim is one the caller already held: was it extended, and did it keep its own reason? */
export type AlreadyHeld = { extended: boolean; reasonKept: boolean };

export type ClaimAnswer = {
  claim: Claim;
  /** Others' live claims on the same paths. */
  overlapping: Claim[];
  /** Set when the caller already held a live claim on exactly these paths: the answer is that claim, not a new one. */
  alreadyHeld?: AlreadyHeld;
};

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((path) => b.includes(path));

/**
 * Claims paths for the caller. Refused with ClaimConflict when an exclusive claim overlaps another
 * holder's live exclusive claim; a non-exclusive claim is never refused and refuses no one.
 * Claiming exactly the paths (as a set, after normalising) and exclusivity of one of the caller's
 * own live claims answers that claim, renewed when it has less than nine tenths of the time asked
 * for left, with its own reason: a retried call (its first try landed) tells the feed nothing twice.
 * Returns the claim and the others' live claims it overlaps.
 */
export async function claimPaths(
  db: Db,
  caller: Caller,
  input: NewClaim,
  settings: ClaimSettings = defaultClaimSettings,
): Promise<ClaimAnswer> {
  requireClaimingAgent(caller);
  const paths = normalizeClaimPaths(input.paths);
  const reason = validateReason(input.reason);
  const minutes = validateMinutes(input.minutes, settings);
  const exclusive = input.exclusive ?? true;
  return thenAnnounced(
    db,
    caller.teamId,
    db.transaction(async (tx) => {
      // The lock also makes concurrent identical claims of one agent wait for the first, then find it held.
      await lockTeamClaims(tx, caller.teamId);
      const live = await liveClaims(tx, caller.teamId);
      const overlapping = live.filter((other) => other.holder !== caller.displayName && anyPathsOverlap(paths, other.paths));
      const held = live
        .filter((own) => own.holder === caller.displayName && own.exclusive === exclusive && sameSet(own.paths, paths))
        .at(-1);
      if (held) {
        const answer = await answerHeldClaim(tx, caller, held, minutes);
        if (answer)
          return { claim: answer.claim, overlapping, alreadyHeld: { extended: answer.extended, reasonKept: held.reason !== reason } };
      }
      const conflicts = overlapping.filter((other) => other.exclusive);
      if (exclusive && conflicts.length > 0) throw new ClaimConflict(conflicts);
      requireRoomForClaim(live.filter((own) => own.holder === caller.displayName));
      const [row] = await tx
        .insert(claims)
        .values({
          teamId: caller.teamId,
          agentId: caller.agentId,
          tokenId: caller.tokenId,
          holderName: caller.displayName,
          paths,
          reason,
          exclusive,
          expiresAt: sql`now() + make_interval(mins => ${minutes})`,
        })
        .returning(claimColumns);
      const claim = toClaim(row!);
      const threadId = await writeClaimNote(tx, caller.teamId, claimedNote(claim, minutes), null);
      await tx.update(claims).set({ threadPostId: threadId }).where(eq(claims.id, claim.id));
      return { claim: { ...claim, threadId }, overlapping };
    }),
  );
}

/** A holder at the cap is refused a new claim (claiming again one it holds is still answered), told how to make room. */
function requireRoomForClaim(own: Claim[]): void {
  if (own.length < claimLimits.maxLivePerHolder) return;
  const ids = own.map((claim) => `#${claim.id}`).join(", ");
  throw unprocessable(
    `You hold ${own.length} live claims (${ids}), the most one holder may hold at once (${claimLimits.maxLivePerHolder}). ` +
      "Release one you are done with, or wait for one to end, then claim again; one claim may name up to " +
      `${claimPathLimits.maxPaths} paths or a folder's glob. Nothing was claimed.`,
  );
}

/**
 * The caller's held claim as the answer to claiming it again: as it is while it has nine tenths of
 * the `minutes` asked for left (a retry moments after the first call asks for the same minutes
 * again, and moving the end by those moments would tell the thread a renewal no one chose), renewed
 * to `minutes` from now otherwise. Undefined when the renewal finds it ended meanwhile (it expired
 * while the call waited for the lock, and a sweep told so).
 */
async function answerHeldClaim(
  tx: Db,
  caller: AgentCaller,
  held: Claim,
  minutes: number,
): Promise<{ claim: Claim; extended: boolean } | undefined> {
  const [time] = await tx
    .select({ short: sql<boolean>`${claims.expiresAt} < now() + make_interval(secs => ${minutes * 60 * claimLimits.heldEnoughLeft})` })
    .from(claims)
    .where(eq(claims.id, held.id));
  if (!time?.short) return { claim: held, extended: false };
  const renewed = await renewOwnClaim(tx, caller, held.id, minutes);
  return renewed && { claim: renewed, extended: true };
}

export type ClaimFilter = { paths?: readonly string[]; agent?: string };

/**
 * The team's live claims, soonest to end first; only those overlapping `paths`, or held by `agent`
 * when given: that agent's or its pick-name sessions' (`ci-bots` holds `ci-bots/lint`), its name
 * compared as names always are (nameKey: `BOB` and a full-width `ｂｏｂ` are bob).
 */
export async function listClaims(db: Db, caller: Caller, filter: ClaimFilter = {}): Promise<Claim[]> {
  requireScope(caller, "read");
  const paths = filter.paths === undefined ? undefined : normalizeClaimPaths(filter.paths);
  const agent = filter.agent === undefined ? "" : nameKey(requireWellFormedText("agent", filter.agent));
  return (await liveClaims(db, caller.teamId)).filter((claim) => {
    const holder = nameKey(claim.holder);
    return (paths === undefined || anyPathsOverlap(paths, claim.paths)) && (!agent || holder === agent || holder.startsWith(`${agent}/`));
  });
}

export type ReleaseTarget = { claimId?: number; paths?: readonly string[] };

/**
 * Ends the caller's own live claims: the one named, or every one overlapping `paths`, or, given
 * both, the one named when it overlaps `paths` (refused, saying so, when it does not). Returns them.
 */
export async function releaseClaims(db: Db, caller: Caller, target: ReleaseTarget): Promise<Claim[]> {
  requireClaimingAgent(caller);
  if (target.claimId === undefined && target.paths === undefined)
    throw invalid("Give a claim's id (claim_id over MCP, claimId over REST) or paths: which claims to release.");
  const paths = target.paths === undefined ? undefined : normalizeClaimPaths(target.paths);
  return thenAnnounced(
    db,
    caller.teamId,
    db.transaction(async (tx) => {
      await lockTeamClaims(tx, caller.teamId);
      const own = (await liveClaims(tx, caller.teamId)).filter((claim) => claim.holder === caller.displayName);
      const named = target.claimId === undefined ? undefined : own.find((claim) => claim.id === target.claimId);
      if (target.claimId !== undefined && !named) throw notFound(`You hold no live claim #${target.claimId}.`);
      if (named && paths && !anyPathsOverlap(paths, named.paths)) {
        throw invalid(
          `Your claim #${named.id} is on ${shownClaimPaths(named.paths)}, none of which the paths given overlap: give claim_id alone to release that claim, or paths alone to release your claims overlapping them.`,
        );
      }
      const released = named ? [named] : own.filter((claim) => paths !== undefined && anyPathsOverlap(paths, claim.paths));
      for (const claim of released) await endClaim(tx, caller, claim, `${caller.displayName} released`);
      return released;
    }),
  );
}

async function endClaim(db: Db, caller: Caller, claim: Claim, whoReleased: string): Promise<void> {
  // A claim that expired this very moment may have had its end told by a sweep already: one story, one end.
  const [ended] = await db
    .update(claims)
    .set({ releasedAt: sql`now()`, releasedBy: caller.displayName })
    .where(and(eq(claims.id, claim.id), isNull(claims.endToldAt)))
    .returning({ id: claims.id });
  if (ended) await writeClaimNote(db, caller.teamId, `${whoReleased} claim ${claim.id} on ${quotedPaths(claim.paths)}`, claim.threadId);
}

/** Moves the end of the caller's own live claim to `minutes` from now. */
export async function renewClaim(
  db: Db,
  caller: Caller,
  input: { claimId: number; minutes?: number },
  settings: ClaimSettings = defaultClaimSettings,
): Promise<Claim> {
  requireClaimingAgent(caller);
  const minutes = validateMinutes(input.minutes, settings);
  return thenAnnounced(
    db,
    caller.teamId,
    db.transaction(async (tx) => {
      const claim = await renewOwnClaim(tx, caller, input.claimId, minutes);
      if (!claim) throw notFound(`You hold no live claim #${input.claimId}; claim the paths again.`);
      return claim;
    }),
  );
}

/**
 * The renewal, inside the caller's transaction: the claim's end moves to `minutes` from now and its
 * thread is told. Undefined when the caller holds no such live claim.
 */
async function renewOwnClaim(tx: Db, caller: AgentCaller, claimId: number, minutes: number): Promise<Claim | undefined> {
  const [row] = await tx
    .update(claims)
    .set({ expiresAt: sql`now() + make_interval(mins => ${minutes})` })
    .where(
      and(
        eq(claims.id, claimId),
        eq(claims.teamId, caller.teamId),
        eq(claims.holderName, caller.displayName),
        isNull(claims.releasedAt),
        isNull(claims.endToldAt),
        gt(claims.expiresAt, sql`now()`),
        // A claim its revoked token ended stays ended, even for another token of the same agent.
        sql`exists (select 1 from ${agentTokens} where ${agentTokens.id} = ${claims.tokenId} and ${agentTokens.revokedAt} is null
          and (${agentTokens.expiresAt} is null or ${agentTokens.expiresAt} > now()))`,
      ),
    )
    .returning(claimColumns);
  if (!row) return undefined;
  const claim = toClaim(row);
  await writeClaimNote(
    tx,
    caller.teamId,
    `${caller.displayName} renewed claim ${claim.id} until ${claim.expiresAt.toISOString()}`,
    claim.threadId,
  );
  return claim;
}

/** An engineer ends someone's claim (a stale one, as a rule); audited and told in the claim's thread. */
export async function releaseClaimAsEngineer(db: Db, caller: Caller, claimId: number): Promise<Claim> {
  if (caller.kind !== "human") throw forbidden("Only engineers release others' claims.");
  return thenAnnounced(
    db,
    caller.teamId,
    db.transaction(async (tx) => {
      await lockTeamClaims(tx, caller.teamId);
      const claim = (await liveClaims(tx, caller.teamId)).find((candidate) => candidate.id === claimId);
      if (!claim) throw notFound(`No live claim #${claimId} in your team.`);
      await endClaim(tx, caller, claim, `${caller.displayName} released ${claim.holder}'s`);
      await recordAudit(tx, caller.teamId, caller, "claim.released", `#${claimId}`, { holder: claim.holder, paths: claim.paths });
      return claim;
    }),
  );
}

export type PathConflict = { path: string; claim: Claim };

/**
 * The git guard's question: which of these literal paths (a commit's files) fall under another
 * holder's live exclusive claim? Non-exclusive claims record intent and never stop a commit.
 */
export async function findClaimedPaths(db: Db, caller: Caller, paths: readonly string[]): Promise<PathConflict[]> {
  requireScope(caller, "read");
  if (paths.length > claimPathLimits.maxCheckedPaths) {
    throw invalid(`paths holds ${paths.length} entries; at most ${claimPathLimits.maxCheckedPaths} are checked at once.`);
  }
  const others = (await liveClaims(db, caller.teamId)).filter((claim) => claim.exclusive && claim.holder !== caller.displayName);
  const conflicts: PathConflict[] = [];
  for (const [index, raw] of paths.entries()) {
    if (typeof raw !== "string" || raw.length > 4096) throw invalid(`paths[${index}] must be a path of at most 4096 characters.`);
    const path = raw.replace(/^\.\//, "");
    const claim = others.find((other) => other.paths.some((pattern) => pathMatches(pattern, path)));
    if (claim) conflicts.push({ path, claim });
  }
  return conflicts;
}

/** The caller's own live claims (login shows them). */
export async function ownClaims(db: Db, caller: AgentCaller): Promise<Claim[]> {
  return (await liveClaims(db, caller.teamId)).filter((claim) => claim.holder === caller.displayName);
}
