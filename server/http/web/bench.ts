import { Hono, type MiddlewareHandler } from "hono";
import { buildReport } from "../../domain/bench-report.ts";
import { BenchRunPage, BenchRunsPage } from "../../../views/pages/bench.tsx";
import { getBenchRun, listBenchRuns, listBenchTrials } from "../../domain/bench-runs.ts";
import type { Db } from "../../db/client.ts";
import { pageOf, type WebEnv } from "./session.ts";

/** /bench and /bench/:runId for signed-in engineers: their team's runs that `botboard bench` stored, with their reports. */
export function benchRoutes(db: Db, engineer: MiddlewareHandler<WebEnv>) {
  const routes = new Hono<WebEnv>();
  routes.get("/bench", engineer, async (c) => c.html(BenchRunsPage({ page: pageOf(c), runs: await listBenchRuns(db, c.get("caller")) })));
  routes.get("/bench/:runId", engineer, async (c) => {
    const run = await getBenchRun(db, c.get("caller"), c.req.param("runId").slice(0, 100));
    const report = buildReport(run, await listBenchTrials(db, run.id));
    return c.html(BenchRunPage({ page: pageOf(c), report }));
  });
  return routes;
}
