import { createHmac } from "node:crypto";
import { and, asc, eq, gte, inArray, lt, lte, sql } from "drizzle-orm";
import type { Database, Db } from "../db/client.ts";
import { posts, teams, webhookDeliveries, webhooks } from "../db/schema/index.ts";
import { logger } from "../logger.ts";
import { nameKey } from "./names.ts";
import type { AuthorKind } from "./posts.ts";
import { cutOnCodePoints } from "./untrusted-text.ts";
import type { WebhookSettings } from "./webhook-settings.ts";

/**
 * Sends the outbox (webhook_deliveries) from every server process. A row is claimed and marked
 * `sending` in one statement (FOR UPDATE SKIP LOCKED), so two processes never send the same row; a
 * claim lapses after `claimMs` when its process died, and another process sends it again.
 */

const batchSize = 10;
const maxErrorChars = 300;
const maxSlackContentChars = 3_000;

/** The header a json delivery is signed in: `sha256=` and the hex HMAC-SHA256 of the raw body under the webhook's secret. */
const signatureHeader = "X-Botboard-Signature";

function signatureOf(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Slack's mrkdwn control characters: escaped, agent text cannot ping @channel, mention users or craft links. */
function escapeSlackText(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

type Claimed = { id: number; webhookId: string; postId: number; attempts: number };

/** Claims up to `batchSize` due rows for this process; rows whose claim lapsed too often are failed first. */
async function claimDue(db: Db, settings: WebhookSettings): Promise<Claimed[]> {
  await db
    .update(webhookDeliveries)
    .set({ status: "failed", lastError: "the server sending it stopped before it finished", updatedAt: sql`now()` })
    .where(
      and(
        eq(webhookDeliveries.status, "sending"),
        lte(webhookDeliveries.dueAt, sql`now()`),
        gte(webhookDeliveries.attempts, settings.maxAttempts),
      ),
    );
  const due = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        inArray(webhookDeliveries.status, ["pending", "sending"]),
        lte(webhookDeliveries.dueAt, sql`now()`),
        lt(webhookDeliveries.attempts, settings.maxAttempts),
      ),
    )
    .orderBy(asc(webhookDeliveries.dueAt))
    .limit(batchSize)
    .for("update", { skipLocked: true });
  const claimMs = settings.timeoutMs * 4;
  const rows = await db
    .update(webhookDeliveries)
    .set({
      status: "sending",
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      dueAt: sql`now() + ${`${claimMs} milliseconds`}::interval`,
      updatedAt: sql`now()`,
    })
    .where(inArray(webhookDeliveries.id, due))
    .returning({
      id: webhookDeliveries.id,
      webhookId: webhookDeliveries.webhookId,
      postId: webhookDeliveries.postId,
      attempts: webhookDeliveries.attempts,
    });
  return rows.map((row) => ({ ...row, id: Number(row.id), postId: Number(row.postId) }));
}

/** How a webhook message names the kind of author: system posts are Botboard's own notes (claims' stories). */
const authorKindLabel: Record<AuthorKind, string> = { agent: "agent", human: "engineer", system: "Botboard's note" };

type Outgoing = {
  webhook: typeof webhooks.$inferSelect;
  teamSlug: string;
  post: {
    id: number;
    rootId: number | null;
    parentId: number | null;
    authorKind: AuthorKind;
    authorName: string;
    content: string;
    tags: string[];
    mentions: string[];
    urgent: boolean;
    createdAt: Date;
    deletedAt: Date | null;
  };
};

/** Why the webhook gets this post, in the words the message shows. */
function reasonsFor(outgoing: Outgoing): string[] {
  const { webhook, post } = outgoing;
  const reasons = post.tags.filter((tag) => webhook.tags.includes(tag)).map((tag) => `#${tag}`);
  reasons.push(...post.mentions.filter((name) => webhook.mentions.includes(nameKey(name))).map((name) => `@${name}`));
  if (webhook.urgent && post.urgent) reasons.push("urgent");
  return reasons;
}

/** The request a delivery sends: Slack's incoming-webhook JSON, or a generic body signed with the webhook's secret. */
function webhookRequest(outgoing: Outgoing, deliveryId: number, publicUrl: string): { body: string; headers: Record<string, string> } {
  const { webhook, post, teamSlug } = outgoing;
  const url = `${publicUrl}/posts/${post.rootId ?? post.id}#post-${post.id}`;
  const reasons = reasonsFor(outgoing);
  if (webhook.format === "slack") {
    const content = post.content.length > maxSlackContentChars ? `${cutOnCodePoints(post.content, maxSlackContentChars)}…` : post.content;
    const author = `${escapeSlackText(post.authorName)} (${authorKindLabel[post.authorKind]})`;
    const text = `${post.urgent ? "*Urgent* " : ""}*${author}* in ${escapeSlackText(teamSlug)} · ${escapeSlackText(reasons.join(", "))} · <${url}|post #${post.id}>\n${escapeSlackText(content)}`;
    return { body: JSON.stringify({ text }), headers: { "content-type": "application/json" } };
  }
  const body = JSON.stringify({
    event: "post.created",
    deliveryId,
    team: teamSlug,
    reasons,
    post: {
      id: post.id,
      threadId: post.rootId ?? post.id,
      parentId: post.parentId,
      author: { kind: post.authorKind, name: post.authorName },
      content: post.content,
      tags: post.tags,
      mentions: post.mentions,
      urgent: post.urgent,
      createdAt: post.createdAt.toISOString(),
      url,
    },
  });
  return {
    body,
    headers: {
      "content-type": "application/json",
      [signatureHeader]: signatureOf(webhook.secret, body),
      "X-Botboard-Delivery": String(deliveryId),
    },
  };
}

async function loadOutgoing(db: Db, claimed: Claimed[]): Promise<Map<number, Outgoing>> {
  const rows = await db
    .select({
      deliveryId: webhookDeliveries.id,
      webhook: webhooks,
      teamSlug: teams.slug,
      post: {
        id: posts.id,
        rootId: posts.rootId,
        parentId: posts.parentId,
        authorKind: posts.authorKind,
        authorName: posts.authorName,
        content: posts.content,
        tags: posts.tags,
        mentions: posts.mentions,
        urgent: posts.urgent,
        createdAt: posts.createdAt,
        deletedAt: posts.deletedAt,
      },
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(posts, eq(posts.id, webhookDeliveries.postId))
    .innerJoin(teams, eq(teams.id, webhookDeliveries.teamId))
    .where(
      inArray(
        webhookDeliveries.id,
        claimed.map((row) => row.id),
      ),
    );
  return new Map(
    rows.map((row) => [
      Number(row.deliveryId),
      { ...row, post: { ...row.post, id: Number(row.post.id), rootId: toNumber(row.post.rootId), parentId: toNumber(row.post.parentId) } },
    ]),
  );
}

const toNumber = (value: number | null) => (value === null ? null : Number(value));

/** What a send came to: nothing to record but success, or an error, `final` when trying again cannot help. */
type SendOutcome = { error?: string; final?: boolean };

async function send(outgoing: Outgoing | undefined, deliveryId: number, settings: WebhookSettings): Promise<SendOutcome> {
  if (!outgoing) return { error: "the webhook or the post is gone", final: true };
  if (outgoing.post.deletedAt !== null) return { error: "the post was deleted before it was sent", final: true };
  const { body, headers } = webhookRequest(outgoing, deliveryId, settings.publicUrl);
  try {
    const response = await fetch(outgoing.webhook.url, {
      method: "POST",
      headers: { ...headers, "user-agent": "Botboard-Webhook" },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    await response.body?.cancel();
    return response.ok ? {} : { error: `the receiver answered ${response.status}` };
  } catch (error) {
    const cause = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${settings.timeoutMs} ms` : String(error);
    return { error: cause.slice(0, maxErrorChars) };
  }
}

/** Writes a send's outcome, only if this process still holds the claim (it did not lapse meanwhile). */
async function record(db: Db, row: Claimed, { error, final: givenUp }: SendOutcome, settings: WebhookSettings): Promise<void> {
  const final = error === undefined || givenUp === true || row.attempts >= settings.maxAttempts;
  const retryMs = settings.retryBaseMs * 4 ** (row.attempts - 1);
  await db
    .update(webhookDeliveries)
    .set({
      status: error === undefined ? "delivered" : final ? "failed" : "pending",
      lastError: error ?? null,
      dueAt: final ? sql`now()` : sql`now() + ${`${retryMs} milliseconds`}::interval`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(webhookDeliveries.id, row.id), eq(webhookDeliveries.status, "sending"), eq(webhookDeliveries.attempts, row.attempts)));
}

/** Sends what is due now, batch after batch; resolves to the number of requests made. */
export async function sendDueWebhooks(db: Db, settings: WebhookSettings): Promise<number> {
  let sent = 0;
  for (;;) {
    const claimed = await claimDue(db, settings);
    if (claimed.length === 0) return sent;
    const outgoing = await loadOutgoing(db, claimed);
    await Promise.all(
      claimed.map(async (row) => {
        await record(db, row, await send(outgoing.get(row.id), row.id, settings), settings);
      }),
    );
    sent += claimed.length;
    if (claimed.length < batchSize) return sent;
  }
}

/** The channel the outbox trigger notifies when a committed post owes deliveries (migration 0019). */
export const webhookChannel = "botboard_webhooks";

/** A worker waiting on a far retry looks again at least this often. */
const longestSleepMs = 60_000;

/** Milliseconds until the next owed row is due (0 if one is due now); undefined when nothing is owed. */
async function nextDueInMs(db: Db): Promise<number | undefined> {
  const [row] = await db
    .select({ ms: sql<number | null>`(extract(epoch from min(${webhookDeliveries.dueAt}) - now()) * 1000)::float8` })
    .from(webhookDeliveries)
    .where(inArray(webhookDeliveries.status, ["pending", "sending"]));
  return row?.ms === null || row?.ms === undefined ? undefined : Math.max(0, Number(row.ms));
}

/**
 * Sends the outbox from this process until stopped. It wakes when the trigger announces new rows
 * (every process hears it; SKIP LOCKED shares the rows out), when a retry or a lapsed claim falls
 * due, after the database was away, and at start if an earlier run left rows owed. With nothing owed
 * it sends no statement at all.
 */
export async function startWebhookWorker(
  database: Pick<Database, "db" | "listen">,
  settings: WebhookSettings,
): Promise<{ stop(): Promise<void> }> {
  const { db } = database;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let wokenWhileRunning = false;
  const sleep = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(wake, Math.min(ms, longestSleepMs)).unref();
  };
  const turn = async () => {
    await sendDueWebhooks(db, settings);
    const next = await nextDueInMs(db);
    if (next !== undefined) sleep(next);
  };
  function wake(): void {
    if (stopped) return;
    if (running) {
      wokenWhileRunning = true;
      return;
    }
    running = turn()
      .catch((error: unknown) => {
        logger.warn({ error: String(error) }, "sending webhooks failed; trying again");
        sleep(settings.retryAfterErrorMs);
      })
      .finally(() => {
        running = undefined;
        if (wokenWhileRunning) {
          wokenWhileRunning = false;
          wake();
        }
      });
  }
  const unlisten = await database.listen(webhookChannel, wake, wake);
  const owed = await nextDueInMs(db);
  if (owed !== undefined) sleep(owed);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await unlisten();
      await running;
    },
  };
}

const deliveryLogDays = 30;

/** The delivery log keeps a month: settled rows older than that say nothing an admin still needs. */
export async function forgetOldDeliveries(db: Db): Promise<void> {
  await db
    .delete(webhookDeliveries)
    .where(
      and(
        inArray(webhookDeliveries.status, ["delivered", "failed"]),
        lt(webhookDeliveries.updatedAt, sql`now() - ${`${deliveryLogDays} days`}::interval`),
      ),
    );
}
