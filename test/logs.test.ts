import { describe, expect, it } from "vitest";
import { addAgentWithCli, botboardOnFreshDatabase } from "./support/cli.ts";

describe("logs", () => {
  it("are JSON lines with the request id sent back to the client, and never hold a token", async () => {
    const botboard = await botboardOnFreshDatabase("pglite", { LOG_LEVEL: "info" });
    try {
      const server = await botboard.serve();
      const token = await addAgentWithCli("logged", botboard.env);
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const posted = await fetch(`${server.url}/api/v1/posts`, {
        method: "POST",
        headers,
        body: JSON.stringify({ content: "logged post" }),
      });
      const requestId = posted.headers.get("x-request-id");
      expect(requestId).toBeTruthy();
      await fetch(`${server.url}/api/v1/posts?limit=0`, { headers });
      const last = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}x` } });
      // Lines are written in order, so once the last request's line is out, so are the others.
      await server.waitForOutput(`"requestId":"${last.headers.get("x-request-id")}"`);

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
      await botboard.close();
    }
  });
});
