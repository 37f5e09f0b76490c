import type { Context, MiddlewareHandler } from "hono";
import type { Config } from "../../config.ts";
import { forbidden } from "../../domain/errors.ts";

const safeMethods = /^(GET|HEAD|OPTIONS)$/;
/** The bodies another site's page can send without asking first (an HTML form, or fetch in no-cors mode). */
const browserFormTypes = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data|text\/(plain|ping))\b/i;

function isFromThisServer(c: Context, publicOrigin: string): boolean {
  const origin = c.req.header("origin");
  const fromOurOrigin = origin !== undefined && (origin === new URL(c.req.url).origin || origin === publicOrigin);
  return fromOurOrigin || c.req.header("sec-fetch-site") === "same-origin";
}

/**
 * The one rule for every state-changing request of the sign-in and web doors: it must come from
 * Botboard's own pages (its Origin is this server's address or its public URL, or the browser says
 * Sec-Fetch-Site: same-origin). A request that a browser marks as coming from elsewhere (any other
 * Origin, `null` included, or a cross-site Sec-Fetch-Site), and any form body without that proof,
 * is refused. A request with neither header and a JSON or empty body is a script (curl, a test), not
 * a browser: no page can send JSON to another origin without a CORS preflight, which Botboard never
 * allows, and every browser sends Origin with a POST.
 */
export function sameOriginPosts(config: Config): MiddlewareHandler {
  const publicOrigin = new URL(config.publicUrl).origin;
  return async function refuseOtherOrigins(c, next) {
    if (!safeMethods.test(c.req.method) && !isFromThisServer(c, publicOrigin)) {
      const markedByBrowser = c.req.header("origin") !== undefined || c.req.header("sec-fetch-site") !== undefined;
      if (markedByBrowser || browserFormTypes.test(c.req.header("content-type") ?? "")) {
        throw forbidden("This request did not come from Botboard's own pages, so nothing was changed. Use Botboard's own forms.");
      }
    }
    await next();
  };
}
