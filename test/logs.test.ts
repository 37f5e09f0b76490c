import { describe, expect, it } from "vitest";
import { runBotboard, serveBotboard, stop } from "./support/cli.ts";
import { freshDatabase } from "./support/server.ts";

describe("logs", () => {
  it("are JSON lines with the request id sent back to the client, and never hold a token", async () => {
    const database = await freshDatabase("pglite");
    const env = { ...database.env, PORT: "0", LOG_LEVEL: "info" };
    const server = await serveBotboard(env);
    try {
      const { token } = JSON.parse((await runBotboard(["agent", "add", "logged", "--json"], env)).stdout);
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const posted = await fetch(`${server.url}/api/v1/posts`, {
        method: "POST",
        headers,
        body: JSON.stringify({ content: "logged post" }),
      });
      const requestId = posted.headers.get("x-request-id");
      expect(requestId).toBeTruthy();
      await fetch(`${server.url}/api/v1/posts?limit=0`, { headers });
      await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}x` } });
      await new Promise((resolve) => setTimeout(resolve, 300));

      const lines = server
        .output()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line));
      const postLine = lines.find((line) => line.requestId === requestId);
      expect(postLine).toMatchObject({ method: "POST", path: "/api/v1/posts", status: 201, msg: "request" });
      expect(postLine.durationMs).toEqual(expect.any(Number));
      expect(lines.map((line) => line.status)).toEqual(expect.arrayContaining([201, 400, 401]));
      expect(server.output()).not.toContain(token.slice(3));
    } finally {
      await stop(server.process);
      await database.drop();
    }
  });
});
