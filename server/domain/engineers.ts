import { and, asc, eq, gt, isNull, ne, sql } from "drizzle-orm";
import { recordAudit, type AuditActor } from "./audit.ts";
import { requireTeamAdmin } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { invites, posts, sessions, teams, users } from "../db/schema/index.ts";
import { conflict, forbidden, invalid, notFound } from "./errors.ts";
import { announceSessionsEnded, type Role } from "./users.ts";
import { announcePostsChanged } from "./post-announcements.ts";
import { feedChanged } from "./feed-cache.ts";
import { requireNoNulByte } from "./untrusted-text.ts";

/**
 * Engineers' accounts over their life: who they are, their role, disabled or deleted, and the
 * invites still open. Only the command line or an admin of the same team may look or act; every
 * change is audited in the team's log, and one that takes access away ends the engineer's sessions
 * (and the live feeds open in them) at once.
 */

export type EngineerStatus = "active" | "disabled";

export type Engineer = {
  username: string;
  displayName: string;
  role: Role;
  status: EngineerStatus;
  lastSignInAt: Date | null;
  createdAt: Date;
  team: string;
};

export type OpenInvite = { ref: string; role: Role; expiresAt: Date; createdAt: Date };

/** What a deleted engineer's posts are signed with from then on: names never hold '(', so no one can take it. */
export const deletedAuthorSuffix = " (deleted engineer)";

/** How many leading hex digits of an invite's stored hash name it in lists and `invite cancel`. */
export const inviteRefLength = 12;
const inviteRefPattern = new RegExp(`^[0-9a-f]{${inviteRefLength}}$`);

export async function listEngineers(db: Db, actor: AuditActor, teamId: string): Promise<Engineer[]> {
  requireTeamAdmin(actor, teamId);
  const rows = await db
    .select({
      username: users.username,
      displayName: users.displayName,
      role: users.role,
      disabledAt: users.disabledAt,
      lastSignInAt: users.lastSignInAt,
      createdAt: users.createdAt,
      team: teams.slug,
    })
    .from(users)
    .innerJoin(teams, eq(teams.id, users.teamId))
    .where(eq(users.teamId, teamId))
    .orderBy(asc(users.createdAt), asc(users.username));
  return rows.map(({ disabledAt, ...engineer }) => ({ ...engineer, status: disabledAt ? "disabled" : "active" }));
}

type Target = typeof users.$inferSelect;

/** The team's engineer by username (any case); another team's is "not found", as if it did not exist. */
async function findEngineer(db: Db, teamId: string, username: string): Promise<Target> {
  requireNoNulByte("username", username);
  const [user] = await db
    .select()
    .from(users)
    .where(and(eq(users.teamId, teamId), eq(sql`lower(${users.username})`, username.trim().toLowerCase())));
  if (!user) throw notFound(`No engineer '${username.slice(0, 64)}' in this team.`);
  return user;
}

/** A team keeps at least one enabled admin (the caller locked the team's admins: see lockedTarget). */
async function keepAnotherAdmin(db: Db, target: Target, doing: string): Promise<void> {
  if (target.role !== "admin" || target.disabledAt) return;
  const others = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.teamId, target.teamId), eq(users.role, "admin"), isNull(users.disabledAt), ne(users.id, target.id)));
  if (others.length === 0) {
    throw conflict(`${target.username} is the last admin of the team: make another engineer admin before you ${doing}.`);
  }
}

/**
 * Locks the team's enabled admins, then reads the target: every change that could leave a team
 * without an admin starts this way, so two admins demoting (or disabling, or deleting) each other
 * at once cannot both succeed. An engineer acting must still be one of them: a role checked when
 * their request began may have been taken away since.
 */
async function lockedTarget(db: Db, actor: AuditActor, teamId: string, username: string): Promise<Target> {
  const admins = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.teamId, teamId), eq(users.role, "admin"), isNull(users.disabledAt)))
    .for("update");
  if (actor.kind === "human" && !admins.some((admin) => admin.id === actor.userId)) throw forbidden("Only a team admin may do this.");
  return findEngineer(db, teamId, username);
}

/** Makes an engineer admin or member; takes effect on their next request. Returns whether anything changed. */
export async function setEngineerRole(db: Db, actor: AuditActor, teamId: string, username: string, role: Role): Promise<boolean> {
  requireTeamAdmin(actor, teamId);
  if (role !== "admin" && role !== "member") throw invalid("A role is admin or member.");
  return db.transaction(async (tx) => {
    const target = await lockedTarget(tx, actor, teamId, username);
    if (target.role === role) return false;
    if (role === "member") await keepAnotherAdmin(tx, target, "demote them");
    await tx.update(users).set({ role }).where(eq(users.id, target.id));
    await recordAudit(tx, teamId, actor, "user.role_changed", target.username, { from: target.role, to: role });
    return true;
  });
}

/** Disables an account: it cannot sign in, its sessions end and its open live feeds close. Returns whether anything changed. */
export async function disableEngineer(db: Db, actor: AuditActor, teamId: string, username: string): Promise<boolean> {
  requireTeamAdmin(actor, teamId);
  return db.transaction(async (tx) => {
    const target = await lockedTarget(tx, actor, teamId, username);
    if (target.disabledAt) return false;
    await keepAnotherAdmin(tx, target, "disable them");
    await tx.update(users).set({ disabledAt: sql`now()` }).where(eq(users.id, target.id));
    await endAllSessions(tx, target);
    await recordAudit(tx, teamId, actor, "user.disabled", target.username);
    return true;
  });
}

/** Lets a disabled engineer sign in again (their old sessions stay ended). Returns whether anything changed. */
export async function enableEngineer(db: Db, actor: AuditActor, teamId: string, username: string): Promise<boolean> {
  requireTeamAdmin(actor, teamId);
  return db.transaction(async (tx) => {
    const target = await lockedTarget(tx, actor, teamId, username);
    if (!target.disabledAt) return false;
    await tx.update(users).set({ disabledAt: null }).where(eq(users.id, target.id));
    await recordAudit(tx, teamId, actor, "user.enabled", target.username);
    return true;
  });
}

/**
 * Deletes an account and ends its sessions. Its posts stay, text and all: their user_id becomes
 * null (the foreign key's ON DELETE SET NULL) and they are signed "<name> (deleted engineer)", so a
 * later account with the same name is never mistaken for the author. The username is free again.
 */
export async function deleteEngineer(db: Db, actor: AuditActor, teamId: string, username: string): Promise<void> {
  requireTeamAdmin(actor, teamId);
  await db.transaction(async (tx) => {
    const target = await lockedTarget(tx, actor, teamId, username);
    await keepAnotherAdmin(tx, target, "delete them");
    await tx
      .update(posts)
      .set({ authorName: sql`${posts.authorName} || ${deletedAuthorSuffix}`, changedTxId: sql`pg_current_xact_id()` })
      .where(and(eq(posts.teamId, teamId), eq(posts.userId, target.id)));
    await announcePostsChanged(tx, teamId);
    await endAllSessions(tx, target);
    await tx.delete(users).where(eq(users.id, target.id));
    await recordAudit(tx, teamId, actor, "user.deleted", target.username, { role: target.role });
  });
  // Their posts are signed anew: this process's cached pages of the feed go now, other processes' on the announcement.
  feedChanged(db, teamId);
}

async function endAllSessions(db: Db, target: Target): Promise<void> {
  await db.delete(sessions).where(eq(sessions.userId, target.id));
  await announceSessionsEnded(db, { teamId: target.teamId, userId: target.id, sessionId: null });
}

/** Invites not used and not expired, newest first; each named by a short ref of its stored hash, never its secret. */
export async function listOpenInvites(db: Db, actor: AuditActor, teamId: string): Promise<OpenInvite[]> {
  requireTeamAdmin(actor, teamId);
  const rows = await db
    .select({ id: invites.id, role: invites.role, expiresAt: invites.expiresAt, createdAt: invites.createdAt })
    .from(invites)
    .where(and(eq(invites.teamId, teamId), isNull(invites.usedAt), gt(invites.expiresAt, sql`now()`)))
    .orderBy(sql`${invites.createdAt} desc`);
  return rows.map(({ id, ...invite }) => ({ ref: id.slice(0, inviteRefLength), ...invite }));
}

/** Cancels an open invite by its ref: its link stops working at once. */
export async function cancelInvite(db: Db, actor: AuditActor, teamId: string, ref: string): Promise<void> {
  requireTeamAdmin(actor, teamId);
  const wanted = ref.trim().toLowerCase();
  if (!inviteRefPattern.test(wanted)) throw invalid(`An invite ref is the ${inviteRefLength} characters shown in the list of invites.`);
  await db.transaction(async (tx) => {
    const cancelled = await tx
      .delete(invites)
      .where(and(eq(invites.teamId, teamId), isNull(invites.usedAt), sql`left(${invites.id}, ${inviteRefLength}) = ${wanted}`))
      .returning({ role: invites.role });
    if (cancelled.length === 0) throw notFound(`No open invite ${wanted} in this team.`);
    await recordAudit(tx, teamId, actor, "invite.cancelled", wanted, { role: cancelled[0]!.role });
  });
}
