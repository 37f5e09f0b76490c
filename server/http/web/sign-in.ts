import { Hono, type MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { Config } from "../../config.ts";
import type { Db } from "../../db/client.ts";
import { httpStatusOf, type AppError } from "../../domain/errors.ts";
import { appErrorOf } from "../../domain/failures.ts";
import { passwordLimits } from "../../domain/limits.ts";
import { safeNextPath } from "../../domain/sign-in.ts";
import { findUsableInvite, invalidateSession } from "../../domain/users.ts";
import { LoginPage, SetupPage } from "../../../views/pages/sign-in.tsx";
import { clearSessionCookie, setSessionCookie, setUpFrom, signInFrom } from "../auth.ts";
import { sessionCookieName } from "../../domain/users.ts";
import { noStore, type WebEnv } from "./session.ts";
import { readForm } from "../middleware/form-body.ts";

function formText(form: Record<string, unknown>, name: string, max = 1024): string {
  const value = form[name];
  return typeof value === "string" ? value.slice(0, max) : "";
}

/** A refusal the form can show beside its fields; anything else goes on to the web's error page. */
function formRefusal(caught: unknown): AppError {
  const error = appErrorOf(caught);
  if (!error || !["rate_limited", "unavailable", "unauthorized", "forbidden", "conflict", "invalid"].includes(error.kind)) throw caught;
  return error;
}

/** /login, /setup (the one-time link) and /logout, as forms. */
export function signInRoutes(db: Db, config: Config, engineer: MiddlewareHandler<WebEnv>) {
  const routes = new Hono<WebEnv>();
  routes.use("/login", noStore);
  routes.use("/setup", noStore);

  routes.get("/login", (c) => c.html(LoginPage({ next: safeNextPath(c.req.query("next")) })));

  routes.post("/login", async (c) => {
    const form = await readForm(c);
    const username = formText(form, "username", 200);
    const next = safeNextPath(formText(form, "next", 2000));
    try {
      const { session } = await signInFrom(c, db, { username, password: formText(form, "password", passwordLimits.maxChars) });
      setSessionCookie(c, config, session);
      return c.redirect(next, 303);
    } catch (caught) {
      const error = formRefusal(caught);
      if (error.retryAfterSeconds !== undefined) c.header("Retry-After", String(error.retryAfterSeconds));
      return c.html(LoginPage({ next, username, error: error.message }), httpStatusOf[error.kind]);
    }
  });

  routes.get("/setup", async (c) => {
    const token = (c.req.query("token") ?? "").slice(0, 200);
    const usable = token ? Boolean(await findUsableInvite(db, token)) : false;
    return c.html(SetupPage({ token, usable }), usable ? 200 : 400);
  });

  routes.post("/setup", async (c) => {
    const form = await readForm(c);
    const input = {
      secret: formText(form, "token", 200),
      username: formText(form, "username", 200),
      displayName: formText(form, "displayName", 200),
      password: formText(form, "password", passwordLimits.maxChars),
    };
    try {
      const { session } = await setUpFrom(c, db, input);
      setSessionCookie(c, config, session);
      return c.redirect("/", 303);
    } catch (caught) {
      const error = formRefusal(caught);
      if (error.retryAfterSeconds !== undefined) c.header("Retry-After", String(error.retryAfterSeconds));
      const page = { token: input.secret, usable: true, username: input.username, displayName: input.displayName };
      return c.html(SetupPage({ ...page, error: error.message }), httpStatusOf[error.kind]);
    }
  });

  routes.post("/logout", engineer, async (c) => {
    const token = getCookie(c, sessionCookieName);
    if (token) await invalidateSession(db, token);
    clearSessionCookie(c);
    return c.redirect("/login", 303);
  });

  return routes;
}
