import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { invalidateSession, sessionCookieName, type Session } from "../domain/users.ts";
import { setUpAccount, signIn } from "../domain/sign-in.ts";
import { describeZodError, setRateLimitHeaders } from "./middleware/agent-requests.ts";
import { invalid } from "../domain/errors.ts";
import { passwordLimits } from "../domain/limits.ts";
import { sameOriginPosts } from "./middleware/same-origin.ts";
import { requireUtf8Json } from "./middleware/utf8-json.ts";
import { readForm } from "./middleware/form-body.ts";

export const loginSchema = z.strictObject({
  username: z.string({ error: "username is required" }).max(200),
  password: z.string({ error: "password is required" }).max(passwordLimits.maxChars),
});

export const setupSchema = z.strictObject({
  token: z.string({ error: "token (from the setup link) is required" }).max(200),
  username: z.string({ error: "username is required" }).max(200),
  displayName: z.string().max(200, "displayName is over 200 characters").optional(),
  password: z.string({ error: "password is required" }).max(passwordLimits.maxChars),
});

/** The one place a session cookie is written: at sign-in, set-up, and when a session slides forward. */
export function setSessionCookie(c: Context, config: Config, { token, expiresAt }: Session): void {
  setCookie(c, sessionCookieName, token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: config.publicUrl.startsWith("https://"),
    path: "/",
    expires: expiresAt,
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, sessionCookieName, { path: "/" });
}

/** JSON, or a form read by the rules of every form (form-body.ts). */
async function parseBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  let raw: unknown;
  if ((c.req.header("content-type") ?? "").startsWith("application/json")) {
    try {
      raw = await c.req.json();
    } catch {
      throw invalid("The body is not valid JSON.");
    }
  } else {
    raw = await readForm(c);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalid(describeZodError(parsed.error));
  return parsed.data;
}

/** Signs in through the domain's sequence; the RateLimit headers go out whether or not it succeeds. */
export function signInFrom(c: Context, db: Db, credentials: { username: string; password: string }) {
  return signIn(db, { ...credentials, address: c.get("clientAddress") }, (allowance) => setRateLimitHeaders(c, allowance));
}

/** Sets up an account through the domain's sequence, with the same RateLimit headers as sign-in. */
export function setUpFrom(c: Context, db: Db, input: { secret: string; username: string; displayName?: string; password: string }) {
  return setUpAccount(db, { ...input, address: c.get("clientAddress") }, (allowance) => setRateLimitHeaders(c, allowance));
}

/** JSON sign-in for scripts and tests; the web pages call the same services with forms. */
export function authRoutes(db: Db, config: Config) {
  const auth = new Hono();
  // The same rule as the web's forms: another site's page cannot sign an engineer in or out.
  auth.use("*", sameOriginPosts(config), requireUtf8Json());

  auth.post("/setup", async (c) => {
    const input = await parseBody(c, setupSchema);
    const { user, session } = await setUpFrom(c, db, { secret: input.token, ...input });
    setSessionCookie(c, config, session);
    return c.json({ user: { id: user.id, username: user.username, displayName: user.displayName, role: user.role } }, 201);
  });

  auth.post("/login", async (c) => {
    const input = await parseBody(c, loginSchema);
    const { user, session } = await signInFrom(c, db, input);
    setSessionCookie(c, config, session);
    return c.json({ user: { id: user.id, username: user.username, displayName: user.displayName, role: user.role } });
  });

  auth.post("/logout", async (c) => {
    const token = getCookie(c, sessionCookieName);
    if (token) await invalidateSession(db, token);
    clearSessionCookie(c);
    return c.json({ ok: true });
  });

  return auth;
}
