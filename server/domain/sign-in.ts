import type { Db } from "../db/client.ts";
import { recordAudit } from "./audit.ts";
import { rateLimitedError, takeLoginAllowance, type Allowance } from "./rate-limits.ts";
import { acceptInvite, createSession, humanCallerOf, verifyLogin, type Session, type User } from "./users.ts";

/**
 * How an engineer gets a session, whichever door they use (the JSON API or the web forms): the
 * doors parse input and set the cookie; the order of throttle, verify and create lives only here.
 */
export type SignedIn = { user: User; session: Session };

/**
 * Counts the try against the account's and the address's buckets before the password is even
 * checked (rate_limited when either is empty), verifies it, and opens a session. `onAllowance`
 * hears the buckets' state first, so a door can send RateLimit headers with a refusal too.
 */
export async function signIn(
  db: Db,
  input: { username: string; password: string; address: string },
  onAllowance: (allowance: Allowance) => void = () => {},
): Promise<SignedIn> {
  const allowance = await takeLoginAllowance(db, input.username, input.address);
  onAllowance(allowance);
  if (!allowance.allowed) throw rateLimitedError(allowance, "Too many sign-in attempts.");
  const user = await verifyLogin(db, input.username, input.password, input.address);
  const session = await createSession(db, user.id);
  await recordAudit(db, user.teamId, humanCallerOf(user), "user.signed_in", user.username, { address: input.address });
  return { user, session };
}

/** Spends a one-time setup link on a new account and signs its engineer in. */
export async function setUpAccount(
  db: Db,
  input: { secret: string; username: string; displayName?: string; password: string },
): Promise<SignedIn> {
  const user = await acceptInvite(db, input);
  return { user, session: await createSession(db, user.id) };
}
