import { existsSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { AppError } from "../domain/errors.ts";

/**
 * The admin socket's client half: the command line asks a running server on the embedded database
 * to run an operation. Kept apart from the server half so that asking loads no database, web
 * framework or domain rule: the answer comes from the server that already has them loaded.
 */

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, "botboard.sock");
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
