import { and, eq, gt, isNull, lte, sql } from "drizzle-orm";
import { recordAudit, type AuditActor } from "./audit.ts";
import { requireTeamAdmin, type HumanCaller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { invites, sessions, teams, users } from "../db/schema/index.ts";
import { conflict, forbidden, invalid, unauthorized } from "./errors.ts";
import { eventsChannel, type SessionsEndedEvent } from "./events.ts";
import { passwordLimits } from "./limits.ts";
import { lockNames, requireNameFree } from "./name-holders.ts";
import { nameKey, validateDisplayName } from "./names.ts";
import { decoyPasswordHash, hashPassword, verifyPassword } from "./passwords.ts";
import { generateSecret, hashSecret } from "./tokens.ts";

/** The cookie that carries an engineer's session token, whichever door set it. */
export const sessionCookieName = "botboard_session";

export type User = Omit<typeof users.$inferSelect, "passwordHash">;
export type Role = "admin" | "member";

const usernamePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$/;
const inviteLifetimeMs = 60 * 60 * 1000;
const sessionLifetimeMs = 30 * 24 * 60 * 60 * 1000;

/** Creates a one-time link secret for a new engineer account; valid for one hour. */
export async function createInvite(
  db: Db,
  actor: AuditActor,
  input: { teamId: string; role: Role },
): Promise<{ secret: string; expiresAt: Date }> {
  requireTeamAdmin(actor, input.teamId);
  const secret = generateSecret();
  const expiresAt = new Date(Date.now() + inviteLifetimeMs);
  await db.insert(invites).values({ id: hashSecret(secret), teamId: input.teamId, role: input.role, expiresAt });
  await recordAudit(db, input.teamId, actor, "user.invited", input.role, { expiresAt: expiresAt.toISOString() });
  return { secret, expiresAt };
}

export async function findUsableInvite(db: Db, secret: string): Promise<{ teamId: string; role: Role } | undefined> {
  const [invite] = await db
    .select({ teamId: invites.teamId, role: invites.role })
    .from(invites)
    .where(and(eq(invites.id, hashSecret(secret)), isNull(invites.usedAt), gt(invites.expiresAt, sql`now()`)));
  return invite;
}

const unusableInvite = () => invalid("This link is invalid, used or expired. Ask an admin for a new one.");

/** Spends an invite on a new account; the invite is used exactly once even under concurrent tries. */
export async function acceptInvite(
  db: Db,
  input: { secret: string; username: string; displayName?: string; password: string },
): Promise<User> {
  const username = input.username.trim();
  if (!usernamePattern.test(username)) {
    throw invalid("A username is 2-64 characters: letters, digits, '.', '_', '@' or '-'.");
  }
  if (input.password.length < passwordLimits.minChars) {
    throw invalid(`A password needs at least ${passwordLimits.minChars} characters.`);
  }
  if (input.password.length > passwordLimits.maxChars) throw invalid(`A password is at most ${passwordLimits.maxChars} characters.`);
  const displayName = validateDisplayName(input.displayName?.trim() || username);
  // Checked before hashing, so a made-up link costs a lookup, not a hash; spent atomically below.
  if (!(await findUsableInvite(db, input.secret))) throw unusableInvite();
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    const [invite] = await tx
      .update(invites)
      .set({ usedAt: sql`now()` })
      .where(and(eq(invites.id, hashSecret(input.secret)), isNull(invites.usedAt), gt(invites.expiresAt, sql`now()`)))
      .returning();
    if (!invite) throw unusableInvite();
    const names = nameKey(displayName) === nameKey(username) ? [username] : [username, displayName];
    await lockNames(tx, invite.teamId, names);
    for (const name of names) await requireNameFree(tx, invite.teamId, name, "engineer");
    const [user] = await tx
      .insert(users)
      .values({ teamId: invite.teamId, username, displayName, passwordHash, role: invite.role })
      .onConflictDoNothing()
      .returning();
    if (!user) throw conflict(`The username '${username}' is taken.`);
    const { passwordHash: _hash, ...visible } = user;
    await recordAudit(tx, invite.teamId, humanCallerOf(visible), "invite.used", username, { role: invite.role });
    return visible;
  });
}

/** The engineer as a caller of services (and as the actor of their own audit entries). */
export function humanCallerOf(user: User): HumanCaller {
  return {
    kind: "human",
    teamId: user.teamId,
    userId: user.id,
    username: user.username,
    displayName: user.displayName,
    role: user.role,
  };
}

/**
 * Checks a username and password; the same error and about the same time whether or not the user
 * exists. A wrong password for an existing account is audited in its team, with the address it came
 * from; a disabled account is told so, but only once its password is right.
 */
export async function verifyLogin(db: Db, username: string, password: string, address: string): Promise<User> {
  const [user] = await db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.username})`, username.trim().toLowerCase()));
  const matches = await verifyPassword(password.slice(0, passwordLimits.maxChars), user?.passwordHash ?? decoyPasswordHash);
  if (!user) throw unauthorized("Wrong username or password.");
  if (!matches) {
    await recordAudit(db, user.teamId, { kind: "visitor", address }, "user.sign_in_failed", user.username);
    throw unauthorized("Wrong username or password.");
  }
  const { passwordHash: _hash, ...visible } = user;
  if (user.disabledAt) {
    await recordAudit(db, user.teamId, humanCallerOf(visible), "user.sign_in_refused", user.username, { reason: "disabled", address });
    throw forbidden("This account is disabled. Ask an admin of your team to enable it.");
  }
  return visible;
}

export type Session = { token: string; expiresAt: Date };

export async function createSession(db: Db, userId: string): Promise<Session> {
  const token = generateSecret();
  const expiresAt = new Date(Date.now() + sessionLifetimeMs);
  await db.insert(sessions).values({ id: hashSecret(token), userId, expiresAt });
  await db.update(users).set({ lastSignInAt: sql`now()` }).where(eq(users.id, userId));
  return { token, expiresAt };
}

/**
 * Resolves a session cookie to its engineer. Sliding expiry: a session used in the second half of
 * its life is extended to a full 30 days again; the new expiry is returned so the cookie follows.
 */
export async function validateSession(
  db: Db,
  token: string,
): Promise<{ caller: HumanCaller; sessionId: string; expiresAt: Date; renewed: boolean; repositoryUrl: string | null } | undefined> {
  const id = hashSecret(token);
  // A disabled account's sessions are deleted when it is disabled; this covers one opened meanwhile.
  const [row] = await db
    // The team's repository comes along because every page that shows posts links into it.
    .select({ session: sessions, user: users, repositoryUrl: teams.repositoryUrl })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(teams, eq(teams.id, users.teamId))
    .where(and(eq(sessions.id, id), isNull(users.disabledAt)));
  if (!row) return undefined;
  const now = Date.now();
  if (row.session.expiresAt.getTime() <= now) {
    await db.delete(sessions).where(eq(sessions.id, id));
    return undefined;
  }
  let expiresAt = row.session.expiresAt;
  const renewed = expiresAt.getTime() - now < sessionLifetimeMs / 2;
  if (renewed) {
    expiresAt = new Date(now + sessionLifetimeMs);
    await db.update(sessions).set({ expiresAt }).where(eq(sessions.id, id));
  }
  const { passwordHash: _hash, ...user } = row.user;
  return { caller: humanCallerOf(user), sessionId: id, expiresAt, renewed, repositoryUrl: row.repositoryUrl };
}

/** An expired session is deleted when presented; this drops the ones never presented again. */
export async function forgetExpiredSessions(db: Db): Promise<void> {
  await db.delete(sessions).where(lte(sessions.expiresAt, sql`now()`));
}

/** Signs a session out; a live feed open in it closes, on whichever process holds it. */
export async function invalidateSession(db: Db, token: string): Promise<void> {
  const id = hashSecret(token);
  await db.transaction(async (tx) => {
    const [ended] = await tx.delete(sessions).where(eq(sessions.id, id)).returning({ userId: sessions.userId });
    if (!ended) return;
    const [user] = await tx.select({ teamId: users.teamId }).from(users).where(eq(users.id, ended.userId));
    if (user) await announceSessionsEnded(tx, { teamId: user.teamId, userId: ended.userId, sessionId: id });
  });
}

/**
 * Tells every process, on commit, that these sessions ended (one, or all of the engineer's when
 * `sessionId` is null), so the live feeds they opened close at once (server/http/web/events.ts).
 */
export async function announceSessionsEnded(db: Db, ended: Omit<SessionsEndedEvent, "type">): Promise<void> {
  const event: SessionsEndedEvent = { type: "sessions.ended", ...ended };
  await db.execute(sql`select pg_notify(${eventsChannel}, ${JSON.stringify(event)})`);
}

/** Whether a session (by its stored id) is still open for an enabled account. */
export async function isSessionOpen(db: Db, sessionId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: sessions.id })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), isNull(users.disabledAt), gt(sessions.expiresAt, sql`now()`)));
  return row !== undefined;
}

/** The page where an invited engineer sets up their account. */
export function setupLink(publicUrl: string, secret: string): string {
  return `${publicUrl}/setup?token=${secret}`;
}
