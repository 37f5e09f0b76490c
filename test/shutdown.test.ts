import { describe, expect, it } from "vitest";
import { addAgentWithCli, botboardOnFreshDatabase, runBotboard } from "./support/cli.ts";
import { databaseKinds } from "./support/server.ts";
import { engineerFromSetupToken } from "./support/web.ts";

describe.each(databaseKinds)("SIGTERM on %s", (kind) => {
  it("finishes the requests in flight, loses no acknowledged write, and exits 0", async () => {
    const botboard = await botboardOnFreshDatabase(kind);
    const { env } = botboard;
    try {
      const server = await botboard.serve();
      const agentToken = await addAgentWithCli("drainer", env);
      const send = (index: number) =>
        fetch(`${server.url}/api/v1/posts`, {
          method: "POST",
          headers: { authorization: `Bearer ${agentToken}`, "content-type": "application/json" },
          body: JSON.stringify({ content: `in flight ${index}` }),
        }).then(
          async (response) => ({ status: response.status, id: response.status === 201 ? (await response.json()).id : undefined }),
          () => ({ status: 0, id: undefined }),
        );
      // An engineer watching the live feed must not hold the shutdown up.
      const invite = await runBotboard(["user", "add", "--json"], env);
      const token = new URL(JSON.parse(invite.stdout).link).searchParams.get("token")!;
      const cookie = await engineerFromSetupToken(server, token, "watcher");
      const live = await fetch(`${server.url}/events`, { headers: { cookie, accept: "text/event-stream" } });
      expect(live.status).toBe(200);
      const liveEnded = live.text().then(
        () => "ended",
        () => "ended",
      );

      const exited = new Promise<number | null>((resolve) => server.process.once("exit", resolve));
      const inFlight = Array.from({ length: 30 }, (_, index) => send(index));
      await new Promise((resolve) => setTimeout(resolve, 20));
      server.process.kill("SIGTERM");
      const results = await Promise.all(inFlight);
      expect(await exited).toBe(0);
      expect(await liveEnded).toBe("ended");
      expect(server.output()).toContain("finishing in-flight requests");
      expect(results.every((result) => result.status === 201 || result.status === 0)).toBe(true);
      const acknowledged = results.flatMap((result) => (result.id ? [result.id] : []));
      expect(acknowledged.length).toBeGreaterThan(0);

      const again = await botboard.serve();
      const page = await (
        await fetch(`${again.url}/api/v1/posts?limit=100`, { headers: { authorization: `Bearer ${agentToken}` } })
      ).json();
      const stored = new Set(page.posts.map((post: { id: number }) => post.id));
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await botboard.close();
    }
  }, 60_000);
});
