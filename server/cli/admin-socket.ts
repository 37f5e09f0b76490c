import { existsSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { invalid } from "../domain/errors.ts";
import { errorResponse } from "../http/middleware/agent-requests.ts";
import { adminSocketPath } from "./admin-client.ts";
import { isOperationName, runOperationOn } from "./operations.ts";

/**
 * The admin socket's server half (the client half is admin-client.ts). The embedded database belongs
 * to one process, so while the server runs, `botboard agent add` and friends ask it over a Unix
 * socket in the data folder (only the folder's owner can reach it).
 */
export async function serveAdminSocket(database: Database, config: Config): Promise<Server> {
  const path = adminSocketPath(config.dataDir);
  if (existsSync(path)) rmSync(path);
  const admin = new Hono();
  admin.onError(errorResponse);
  admin.post("/operations/:name", async (c) => {
    const name = c.req.param("name");
    if (!isOperationName(name)) return c.json({ error: { code: "not_found", message: `No operation ${name}.` } }, 404);
    const input = await c.req.json().catch(() => {
      throw invalid(`The input for ${name} is not JSON.`);
    });
    return c.json({
      result: await runOperationOn({ db: database.db, publicUrl: config.publicUrl, postLimits: config.limits }, name, input),
    });
  });
  const server = createHttpServer(getRequestListener(admin.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path, readableAll: false, writableAll: false }, resolve);
  });
  return server;
}
