import { serve } from "@hono/node-server";
import { Hono } from "hono";

/** The floor for any Hono app on this machine: a route that returns a small JSON and does nothing else. */

const app = new Hono();
app.get("/", (c) => c.json({ ok: true, posts: [] }));
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port})`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
