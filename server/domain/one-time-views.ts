import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { and, eq, gt, lte, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { oneTimeViews } from "../db/schema/index.ts";
import { generateSecret, hashSecret } from "./tokens.ts";

/**
 * Post/Redirect/Get for secrets: the form that makes a secret (an agent token, a set-up link) does
 * not answer with it, so reloading or going Back cannot make another. It holds the secret here for
 * the session that made it and redirects to a page that takes it out, once. The row is sealed
 * (AES-256-GCM) with a key derived from the session's cookie token, which the database holds only
 * as a hash: the database alone cannot open it, and no other session can.
 */

const viewLifetimeMs = 10 * 60 * 1000;
const ivBytes = 12;
const tagBytes = 16;

function keyFor(sessionToken: string, viewId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", sessionToken, viewId, "botboard one-time view", 32));
}

function seal(sessionToken: string, viewId: string, payload: unknown): string {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv("aes-256-gcm", keyFor(sessionToken, viewId), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(payload), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
}

function open(sessionToken: string, viewId: string, sealed: string): unknown {
  const bytes = Buffer.from(sealed, "base64");
  const decipher = createDecipheriv("aes-256-gcm", keyFor(sessionToken, viewId), bytes.subarray(0, ivBytes));
  decipher.setAuthTag(bytes.subarray(ivBytes, ivBytes + tagBytes));
  return JSON.parse(Buffer.concat([decipher.update(bytes.subarray(ivBytes + tagBytes)), decipher.final()]).toString("utf8"));
}

/** Holds `payload` for one view by the session whose cookie token is `sessionToken`; returns the view's id for its URL. */
export async function holdForOneView(db: Db, sessionToken: string, payload: unknown): Promise<string> {
  const viewId = generateSecret();
  await db.insert(oneTimeViews).values({
    id: hashSecret(viewId),
    sessionId: hashSecret(sessionToken),
    sealed: seal(sessionToken, viewId, payload),
    expiresAt: new Date(Date.now() + viewLifetimeMs),
  });
  return viewId;
}

/**
 * Takes a held payload out: the first request of its own session within ten minutes gets it, and
 * the row is gone in the same statement, so a reload, Back or a second tab gets undefined.
 */
export async function takeOneTimeView(db: Db, sessionToken: string, viewId: string): Promise<unknown> {
  const [row] = await db
    .delete(oneTimeViews)
    .where(
      and(
        eq(oneTimeViews.id, hashSecret(viewId)),
        eq(oneTimeViews.sessionId, hashSecret(sessionToken)),
        gt(oneTimeViews.expiresAt, sql`now()`),
      ),
    )
    .returning({ sealed: oneTimeViews.sealed });
  return row ? open(sessionToken, viewId, row.sealed) : undefined;
}

/** Views never opened are dropped after their ten minutes (and with their session). */
export async function forgetExpiredViews(db: Db): Promise<void> {
  await db.delete(oneTimeViews).where(lte(oneTimeViews.expiresAt, sql`now()`));
}
