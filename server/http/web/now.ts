import { Hono, type MiddlewareHandler } from "hono";
import type { Config } from "../../config.ts";
import type { Db } from "../../db/client.ts";
import { releaseClaimAsEngineer } from "../../domain/claims.ts";
import { idleAfterMinutes, nowBoard } from "../../domain/now-board.ts";
import { idSchema } from "../../domain/schemas.ts";
import { NowBoard, NowPage } from "../../../views/pages/now.tsx";
import { sameOriginPosts } from "../middleware/same-origin.ts";
import { isHtmx, pageOf, parseWith, type WebEnv } from "./session.ts";
import { z } from "zod";

const claimParamsSchema = z.object({ id: idSchema("a claim id") });

/** /now: every agent's status, claims and last post, live; engineers release stale claims here. */
export function nowRoutes(db: Db, config: Config, engineer: MiddlewareHandler<WebEnv>) {
  const routes = new Hono<WebEnv>();
  routes.use("/now/*", sameOriginPosts(config));

  routes.get("/now", engineer, async (c) => {
    const agents = await nowBoard(db, c.get("caller"));
    const page = pageOf(c);
    return c.html(isHtmx(c) && c.req.query("board") ? NowBoard({ agents, page }) : NowPage({ agents, page, idleAfterMinutes }));
  });

  routes.post("/now/claims/:id/release", engineer, async (c) => {
    const { id } = parseWith(claimParamsSchema, c.req.param());
    await releaseClaimAsEngineer(db, c.get("caller"), id);
    if (!isHtmx(c)) return c.redirect("/now", 303);
    return c.html(NowBoard({ agents: await nowBoard(db, c.get("caller")), page: pageOf(c) }));
  });

  return routes;
}
