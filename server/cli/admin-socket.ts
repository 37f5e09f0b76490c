import { existsSync, rmSync } from "node:fs";
import { createServer as createHttpServer, request, type Server } from "node:http";
import { join } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { AppError, invalid } from "../domain/errors.ts";
import { errorResponse } from "../http/middleware/agent-requests.ts";
import { isOperationName, runOperationOn } from "./operations.ts";

/**
 * The admin socket, both halves: a server on the embedded database answers the command line's
 * operations over a Unix socket in its data folder; the command line asks it there.
 */

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, "botboard.sock");
}

/**
 * The embedded database belongs to one process, so while the server runs, `botboard agent add` and
 * friends ask it over a Unix socket in the data folder (only the folder's owner can reach it).
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

export async function socketAppears(socket: string, timeoutMs = 20_000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (existsSync(socket)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

export function askServer(socketPath: string, name: string, input: unknown): Promise<{ result: unknown }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(input ?? {});
    const call = request(
      { socketPath, path: `/operations/${name}`, method: "POST", headers: { "content-type": "application/json" } },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => {
          const parsed = JSON.parse(text) as { result?: unknown; error?: { code: AppError["kind"]; message: string } };
          if (parsed.error) reject(new AppError(parsed.error.code, parsed.error.message));
          else resolve({ result: parsed.result });
        });
      },
    );
    call.on("error", reject);
    call.end(body);
  });
}
