import { randomBytes } from "node:crypto";
import { and, count, desc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { webhookDeliveries, webhooks } from "../db/schema/index.ts";
import { recordAudit } from "./audit.ts";
import { requireAdmin, type Caller } from "./callers.ts";
import { conflict, invalid, notFound, unprocessable } from "./errors.ts";
import { nameKey } from "./names.ts";
import { isTag, normalizeTag, tagRule } from "./post-content.ts";
import { requireWellFormedText } from "./untrusted-text.ts";

/**
 * Outgoing webhooks: a team admin chooses where the team's posts with chosen tags, mentioning chosen
 * names, or marked urgent are sent. The outbox rows are written by a trigger on posts (migration
 * 0019); webhook-delivery.ts sends them.
 */

export const webhookFormats = ["slack", "json"] as const;
export type WebhookFormat = (typeof webhookFormats)[number];

export const webhookLimits = { perTeam: 20, maxUrlChars: 2000, maxTags: 20, maxNames: 20 } as const;

export type NewWebhook = { url: string; format: string; tags?: string[]; mentions?: string[]; urgent?: boolean };

/** A webhook as the admin page shows it: the URL masked, since a Slack webhook URL is itself a credential. */
export type WebhookView = {
  id: string;
  shownUrl: string;
  format: WebhookFormat;
  tags: string[];
  mentions: string[];
  urgent: boolean;
  createdBy: string;
  createdAt: Date;
};

export type WebhookDeliveryView = {
  id: number;
  webhookId: string;
  shownUrl: string;
  postId: number;
  status: "pending" | "sending" | "delivered" | "failed";
  attempts: number;
  lastError: string | null;
  updatedAt: Date;
};

/** Scheme, host and the start of the path: enough to tell webhooks apart, not enough to post to one. */
export function maskedUrl(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname.length > 9 ? `${parsed.pathname.slice(0, 8)}…` : parsed.pathname;
  return `${parsed.protocol}//${parsed.host}${path}`;
}

function validUrl(text: string): string {
  const url = requireWellFormedText("url", text).trim();
  if (!url) throw invalid("url is required: the address the posts are sent to.");
  if (url.length > webhookLimits.maxUrlChars) throw invalid(`url is ${url.length} characters; at most ${webhookLimits.maxUrlChars}.`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid("url is not a URL: write it whole, e.g. https://hooks.slack.com/services/...");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw invalid("url must start with https:// or http://.");
  if (parsed.username || parsed.password) throw invalid("url may not carry a user name or password.");
  return parsed.toString();
}

function validTags(tags: string[]): string[] {
  const normalized = [...new Set(tags.map((tag, index) => normalizeTag(requireWellFormedText(`tags.${index}`, tag))).filter(Boolean))];
  if (normalized.length > webhookLimits.maxTags) throw invalid(`tags: ${normalized.length} tags; at most ${webhookLimits.maxTags}.`);
  const bad = normalized.find((tag) => !isTag(tag));
  if (bad !== undefined) throw invalid(`tags: '${bad.slice(0, 60)}' is not a tag: ${tagRule}.`);
  return normalized;
}

function validNames(names: string[]): string[] {
  const keys = [
    ...new Set(
      names.map((name, index) => nameKey(requireWellFormedText(`mentions.${index}`, name).trim().replace(/^@/, ""))).filter(Boolean),
    ),
  ];
  if (keys.length > webhookLimits.maxNames) throw invalid(`mentions: ${keys.length} names; at most ${webhookLimits.maxNames}.`);
  const tooLong = keys.find((key) => key.length > 64);
  if (tooLong !== undefined) throw invalid(`mentions: '${tooLong.slice(0, 64)}…' is longer than a name can be.`);
  return keys;
}

/** Adds a webhook to the admin's team; returns it with its signing secret, which is shown this once. */
export async function createWebhook(db: Db, caller: Caller, input: NewWebhook): Promise<{ webhook: WebhookView; secret: string }> {
  requireAdmin(caller);
  const url = validUrl(input.url);
  if (!(webhookFormats as readonly string[]).includes(input.format)) throw invalid("format must be slack or json.");
  const format = input.format as WebhookFormat;
  const tags = validTags(input.tags ?? []);
  const mentions = validNames(input.mentions ?? []);
  const urgent = input.urgent ?? false;
  if (tags.length === 0 && mentions.length === 0 && !urgent) {
    throw unprocessable("Choose what to send: at least one tag, one name whose mentions are sent, or urgent posts.");
  }
  const [existing] = await db.select({ count: count() }).from(webhooks).where(eq(webhooks.teamId, caller.teamId));
  if ((existing?.count ?? 0) >= webhookLimits.perTeam)
    throw conflict(`A team has at most ${webhookLimits.perTeam} webhooks; delete one first.`);
  const secret = `whsec_${randomBytes(24).toString("base64url")}`;
  const [row] = await db
    .insert(webhooks)
    .values({ teamId: caller.teamId, url, format, secret, tags, mentions, urgent, createdBy: caller.displayName })
    .returning();
  const webhook = toView(row!);
  await recordAudit(db, caller.teamId, caller, "webhook.create", webhook.shownUrl, { format, tags, mentions, urgent });
  return { webhook, secret };
}

export async function deleteWebhook(db: Db, caller: Caller, webhookId: string): Promise<void> {
  requireAdmin(caller);
  const id = /^[0-9a-f-]{36}$/i.test(webhookId) ? webhookId : "00000000-0000-0000-0000-000000000000";
  const [row] = await db
    .delete(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.teamId, caller.teamId)))
    .returning();
  if (!row) throw notFound("No such webhook in your team.");
  await recordAudit(db, caller.teamId, caller, "webhook.delete", maskedUrl(row.url));
}

export async function listWebhooks(db: Db, caller: Caller): Promise<WebhookView[]> {
  requireAdmin(caller);
  const rows = await db.select().from(webhooks).where(eq(webhooks.teamId, caller.teamId)).orderBy(webhooks.createdAt);
  return rows.map(toView);
}

/** The team's latest deliveries, newest first: what was sent, what is still owed, what gave up and why. */
export async function listWebhookDeliveries(db: Db, caller: Caller, limit = 50): Promise<WebhookDeliveryView[]> {
  requireAdmin(caller);
  const rows = await db
    .select({
      id: webhookDeliveries.id,
      webhookId: webhookDeliveries.webhookId,
      url: webhooks.url,
      postId: webhookDeliveries.postId,
      status: webhookDeliveries.status,
      attempts: webhookDeliveries.attempts,
      lastError: webhookDeliveries.lastError,
      updatedAt: webhookDeliveries.updatedAt,
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .where(eq(webhookDeliveries.teamId, caller.teamId))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit);
  return rows.map(({ url, ...row }) => ({ ...row, id: Number(row.id), postId: Number(row.postId), shownUrl: maskedUrl(url) }));
}

function toView(row: typeof webhooks.$inferSelect): WebhookView {
  return {
    id: row.id,
    shownUrl: maskedUrl(row.url),
    format: row.format,
    tags: row.tags,
    mentions: row.mentions,
    urgent: row.urgent,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}
