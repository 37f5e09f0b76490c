import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import { getCookie } from "hono/cookie";
import type { HumanCaller } from "../../domain/callers.ts";
import type { Config } from "../../config.ts";
import type { Db } from "../../db/client.ts";
import { forbidden, invalid } from "../../domain/errors.ts";
import { maxSignedNameLength } from "../../domain/names.ts";
import type { FeedFilters } from "../../domain/feed.ts";
import { postIdSchema } from "../../domain/schemas.ts";
import { describeZodError } from "../middleware/agent-requests.ts";
import { validateSession } from "../../domain/users.ts";
import { setSessionCookie } from "../auth.ts";
import { sessionCookieName } from "../../domain/users.ts";
import { readForm } from "../middleware/form-body.ts";

/** `sessionId`: the stored id of the session the request came in (its token's hash, never the token). */
export type WebEnv = {
  Variables: { caller: HumanCaller; sessionId: string; csrfToken: string; sessionToken: string; repositoryUrl: string | null };
};

export const csrfHeaderName = "x-csrf-token";
export const csrfFieldName = "_csrf";

/** The form token is derived from the (HttpOnly) session secret: another site can neither read nor guess it. */
export function csrfTokenFor(sessionToken: string): string {
  return createHash("sha256").update(`csrf:${sessionToken}`).digest("base64url");
}

export function isHtmx(c: Context): boolean {
  return c.req.header("hx-request") === "true";
}

/**
 * What a response shows depends on who asks (private posts, a form's CSRF token, a set-up secret):
 * no cache may keep it, so after signing out Back cannot show it again. Set before the handler
 * runs, the header goes on whatever it answers, the error page included.
 */
export function keepOutOfCaches(c: Context): void {
  c.header("Cache-Control", "no-store");
}

/** For pages without a session whose forms still carry secrets (the set-up link's token). */
export const noStore: MiddlewareHandler = async function noStore(c, next) {
  keepOutOfCaches(c);
  await next();
};

/**
 * Pages need a signed-in engineer: the session cookie is checked on every request (sliding expiry,
 * the cookie follows a renewal). Without one, pages redirect to /login and other requests get 401.
 * Every unsafe request must also carry the session's CSRF token, in a header (htmx) or a form field.
 * Every answer is private to the session (noStore).
 */
export function requireEngineer(db: Db, config: Config): MiddlewareHandler<WebEnv> {
  return async function requireEngineerSession(c, next) {
    keepOutOfCaches(c);
    const token = getCookie(c, sessionCookieName);
    const session = token ? await validateSession(db, token) : undefined;
    if (!token || !session) {
      const url = new URL(c.req.url);
      const login = `/login?next=${encodeURIComponent(url.pathname + url.search)}`;
      if (isHtmx(c)) {
        // Back to the page the form was on once signed in again; its draft waits there (app.js).
        c.header("HX-Redirect", `/login?next=${encodeURIComponent(pagePathOf(c.req.header("hx-current-url")))}`);
        return c.text("Your session has ended; sign in again.", 401);
      }
      if (c.req.method === "GET" && c.req.header("accept") !== "text/event-stream") return c.redirect(login, 303);
      return c.text("Sign in first.", 401);
    }
    if (session.renewed) setSessionCookie(c, config, { token, expiresAt: session.expiresAt });
    const csrfToken = csrfTokenFor(token);
    if (!/^(GET|HEAD|OPTIONS)$/.test(c.req.method)) await checkCsrfToken(c, csrfToken);
    c.set("caller", session.caller);
    c.set("sessionId", session.sessionId);
    c.set("csrfToken", csrfToken);
    c.set("sessionToken", token);
    c.set("repositoryUrl", session.repositoryUrl);
    await next();
  };
}

/** The path and query of the page an htmx request came from; "/" when it is missing or foreign. */
function pagePathOf(currentUrl: string | undefined): string {
  if (!currentUrl) return "/";
  try {
    const url = new URL(currentUrl);
    return url.pathname + url.search;
  } catch {
    return "/";
  }
}

async function checkCsrfToken(c: Context, expected: string): Promise<void> {
  let sent = c.req.header(csrfHeaderName);
  if (!sent && /^(application\/x-www-form-urlencoded|multipart\/form-data)/.test(c.req.header("content-type") ?? "")) {
    const field = (await readForm(c))[csrfFieldName];
    sent = typeof field === "string" ? field : undefined;
  }
  // Compared as bytes: a token of the right length in characters but not in bytes (é) is not one.
  const sentBytes = Buffer.from(sent ?? "");
  const expectedBytes = Buffer.from(expected);
  const matches = sent !== undefined && sentBytes.length === expectedBytes.length && timingSafeEqual(sentBytes, expectedBytes);
  if (!matches) throw forbidden("This form has expired or did not come from Botboard. Reload the page and try again.");
}

/** Query strings and forms send "" for a field left blank: read it as not given. */
export const emptyAsMissing = (value: unknown) => (value === "" ? undefined : value);

/** A post id as a person types it into a form: "12", " 12 " or "#12", the way pages show ids. */
const typedPostId = (value: unknown) => (typeof value === "string" ? emptyAsMissing(value.trim().replace(/^#/, "")) : value);

/** The feed's filters as the page's form and the live stream's URL carry them. */
export const feedFiltersSchema = z.object({
  author: z.preprocess(emptyAsMissing, z.string().max(maxSignedNameLength).optional()),
  tag: z.preprocess(emptyAsMissing, z.string().max(41).optional()),
  thread: z.preprocess(typedPostId, postIdSchema.optional()),
});

export function asFeedFilters(filters: z.infer<typeof feedFiltersSchema>): FeedFilters {
  return { author: filters.author, tag: filters.tag, threadId: filters.thread };
}

/** A page's query or form, parsed; a refusal reads as a sentence about the field, as people see it. */
export function parseWith<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalid(describeZodError(parsed.error, { forPeople: true }));
  return parsed.data;
}

/** What every page needs to know about the request: who is signed in, their form token, where code links go. */
export function pageOf(c: Context<WebEnv>) {
  return { caller: c.get("caller"), csrfToken: c.get("csrfToken"), repositoryUrl: c.get("repositoryUrl") };
}

export { reachableUrlOf } from "../middleware/public-url.ts";
