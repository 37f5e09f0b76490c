import type { Db } from "../db/client.ts";
import { recordAudit } from "./audit.ts";
import { rateLimitedError, takeLoginAllowance, takeSetupAllowance, type Allowance } from "./rate-limits.ts";
import { requireNoNulByte } from "./untrusted-text.ts";
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
  const allowance = await takeLoginAllowance(db, requireNoNulByte("username", input.username), input.address);
  onAllowance(allowance);
  if (!allowance.allowed) throw rateLimitedError(allowance, "Too many sign-in attempts.");
  const user = await verifyLogin(db, input.username, input.password, input.address);
  const session = await createSession(db, user.id);
  await recordAudit(db, user.teamId, humanCallerOf(user), "user.signed_in", user.username, { address: input.address });
  return { user, session };
}

/**
 * Spends a one-time setup link on a new account and signs its engineer in. The try counts against
 * the address's set-up bucket first; the invite is checked before the password is hashed, so a
 * made-up link costs one lookup, never a hash.
 */
export async function setUpAccount(
  db: Db,
  input: { secret: string; username: string; displayName?: string; password: string; address: string },
  onAllowance: (allowance: Allowance) => void = () => {},
): Promise<SignedIn> {
  const allowance = await takeSetupAllowance(db, input.address);
  onAllowance(allowance);
  if (!allowance.allowed) throw rateLimitedError(allowance, "Too many account set-ups from this address.");
  const user = await acceptInvite(db, input);
  return { user, session: await createSession(db, user.id) };
}

/** C0 controls, DEL and C1 controls: a browser drops or rewrites them inside a URL (a tab in "/\t/x" makes "//x"). */
const controlCharacter = /\p{Cc}/u;
const maxNextChars = 2000;

/** A path of this server: one leading "/", then no "/" or "\" (which browsers read as "//", another host), no controls, no backslash. */
function isLocalPath(path: string): boolean {
  return /^\/(?![/\\])/.test(path) && !controlCharacter.test(path) && !path.includes("\\");
}

/**
 * Where to go after signing in: only a path on this server, else "/". Checked as given and once
 * percent-decoded, so "/%09/evil.example" is refused as "/\t/evil.example" would be.
 */
export function safeNextPath(next: string | undefined): string {
  if (!next || next.length > maxNextChars || !isLocalPath(next)) return "/";
  let decoded: string;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return "/";
  }
  return isLocalPath(decoded) ? next : "/";
}
