import type { Caller } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { formatCount, readDigest, type UnreadPage } from "./delivery.ts";
import { unprocessable } from "./errors.ts";
import { framePosts, postHeader } from "./post-text.ts";
import type { AddressedPost } from "./addressing.ts";
import { cutOnCodePoints } from "./untrusted-text.ts";

/**
 * The digest a hook puts in an agent's context (`botboard hook`): what the agent has not been given
 * yet, addressed posts first, framed like every post an agent reads, within a size that stays a small
 * part of a context window, and ending with what is left and which tool reads it.
 */

/** About 1,500 tokens. */
export const defaultDigestChars = 6000;
export const minDigestChars = 500;
export const maxDigestChars = 50_000;

/** The summary, the fence legend and the closing line, whatever the posts. */
const framingChars = 400;

/** The fence lines and blank lines around one post. */
const perPostChars = 32;

function budgetFor(maxChars: number): number {
  return maxChars - framingChars;
}

function sizeOf(post: AddressedPost): number {
  return postHeader(post).length + post.content.length + perPostChars;
}

export type HookDigest = { text: string; page: UnreadPage };

/**
 * Reads the agent's unread posts that fit in `maxChars` (moving its read position past them) and
 * writes them as text; the text is empty when nothing is new. `onlyIfAddressed` hands out nothing
 * unless something unread is addressed to the agent.
 */
export async function hookDigest(
  db: Db,
  caller: Caller,
  options: { maxChars: number; onlyIfAddressed: boolean; abandoned?: AbortSignal },
): Promise<HookDigest> {
  if (!Number.isInteger(options.maxChars) || options.maxChars < minDigestChars || options.maxChars > maxDigestChars) {
    throw unprocessable(`maxChars must be a whole number from ${minDigestChars} to ${maxDigestChars}.`);
  }
  const page = await readDigest(db, caller, {
    maxChars: budgetFor(options.maxChars),
    sizeOf,
    onlyIfAddressed: options.onlyIfAddressed,
    abandoned: options.abandoned,
  });
  return { text: digestText(page, options.maxChars), page };
}

function digestText(page: UnreadPage, maxChars: number): string {
  if (page.posts.length === 0) return "";
  const addressed = page.posts.filter((post) => post.forYou.length > 0).length;
  const noun = page.posts.length === 1 ? "post" : "posts";
  const count = `${page.posts.length} ${noun}`;
  const forYou = addressed > 0 ? ` (${addressed} addressed to you, marked FOR YOU, first)` : "";
  const opening = page.skippedOlder
    ? `Botboard, your team's feed: ${addressed > 0 ? `${count} by others, those addressed to you (marked FOR YOU, however old) first, then the newest` : `the ${page.posts.length} newest ${noun} by others`}.`
    : `Botboard, your team's feed: ${count} by others you have not seen${forYou}.`;
  // One post may be longer than the whole digest: it is cut, and the closing line says where to read it.
  // The framing's size is an estimate; a digest over `maxChars` cuts its long posts by the excess.
  let room = Math.max(0, budgetFor(maxChars) - page.posts.reduce((sum, post) => sum + sizeOf(post) - post.content.length, 0));
  for (;;) {
    const cut = page.posts.filter((post) => post.content.length > room);
    const body = (post: AddressedPost) => (post.content.length > room ? `${cutOnCodePoints(post.content, room)}…` : post.content);
    const text = [framePosts(opening, page.posts, body), closingLine(page, cut)].join("\n\n");
    const excess = text.length - maxChars;
    if (excess <= 0 || room === 0 || cut.length === 0) return text;
    room = Math.max(0, room - Math.ceil(excess / cut.length));
  }
}

function closingLine(page: UnreadPage, cut: AddressedPost[]): string {
  const lines: string[] = [];
  if (cut.length > 0) lines.push(`Cut short: ${cut.map((post) => `#${post.id}`).join(", ")}; get_thread gives the whole text.`);
  if (page.remaining.count > 0) {
    const forYou = page.addressedRemaining.count > 0 ? `, ${formatCount(page.addressedRemaining)} of them addressed to you` : "";
    lines.push(`${formatCount(page.remaining)} more unread${forYou}: call the read_new tool to read them.`);
  } else if (page.skippedOlder && page.skippedOlder.count > 0) {
    lines.push(`${formatCount(page.skippedOlder)} older posts are not shown: read_posts and search_posts find them.`);
  } else {
    lines.push("Nothing more unread; read_new gives what arrives next.");
  }
  return lines.join("\n");
}
