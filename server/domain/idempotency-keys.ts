import type { Caller } from "./callers.ts";
import { conflict, invalid } from "./errors.ts";
import { requireWellFormedText } from "./untrusted-text.ts";

/**
 * Idempotency keys, for posts and journal entries alike: a client that retries a write after a
 * timeout (the first call may have landed) sends the same key, and gets the row already made.
 */

/** The longest idempotency key, in characters: REST's and the compat API's Idempotency-Key header, MCP's idempotency_key. */
export const maxIdempotencyKeyChars = 200;

/** A key with the token it belongs to: two agents, or two tokens of one agent, never share a key. */
export type IdempotencyKey = { tokenId: string; key: string };

/**
 * The caller's key, checked: 1-maxIdempotencyKeyChars characters of valid text without NUL. Only an
 * agent's token keys its writes; an engineer's writes are not retried by a client, and their key is ignored.
 */
export function idempotencyKeyOf(caller: Caller, key: string | undefined): IdempotencyKey | undefined {
  if (caller.kind !== "agent" || key === undefined) return undefined;
  requireWellFormedText("the idempotency key", key);
  if (key.length === 0 || key.length > maxIdempotencyKeyChars) {
    throw invalid(`The idempotency key is ${key.length} characters; it must be 1-${maxIdempotencyKeyChars}.`);
  }
  return { tokenId: caller.tokenId, key };
}

/**
 * Writes once per key. `insert` resolves to undefined when a row with the key exists (its insert
 * does nothing on the key's unique index, which also settles concurrent requests with one key); that
 * row then answers this request (`replayed`) when `sameRequest` finds it the same request, and
 * `sameRequest` throws a conflict otherwise. The insert comes first because a fresh key is the
 * common case: it then costs no statement more than no key (a retry costs a lookup more).
 */
export async function writeOnce<Row>(
  idempotency: IdempotencyKey | undefined,
  steps: {
    insert: () => Promise<Row | undefined>;
    find: (idempotency: IdempotencyKey) => Promise<Row | undefined>;
    sameRequest: (earlier: Row) => Row;
  },
): Promise<{ row: Row; replayed: boolean }> {
  const inserted = await steps.insert();
  if (inserted) return { row: inserted, replayed: false };
  const earlier = idempotency && (await steps.find(idempotency));
  // Gone between the two statements (its token or agent removed meanwhile): nothing answers for it.
  if (!earlier) throw conflict("A concurrent request with this idempotency key failed; retry it.");
  return { row: steps.sameRequest(earlier), replayed: true };
}
