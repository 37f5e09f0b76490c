import { describe, expect, it } from "vitest";
import { addAgentWithCli, botboardOnFreshDatabase } from "./support/cli.ts";

describe("the embedded database after kill -9", () => {
  it("keeps every post the server acknowledged while writing, and opens cleanly", async () => {
    const botboard = await botboardOnFreshDatabase("pglite");
    try {
      let server = await botboard.serve();
      const token = await addAgentWithCli("crasher", botboard.env);
      const acknowledged: number[] = [];
      const writers = Array.from({ length: 8 }, async (_, writer) => {
        for (let index = 0; ; index++) {
          const response = await fetch(`${server.url}/api/v1/posts`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ content: `writer ${writer} post ${index}` }),
          }).catch(() => undefined);
          if (!response) return;
          if (response.status === 201) acknowledged.push((await response.json()).id);
        }
      });
      // Killed mid-stream: once plenty of posts are in, with eight writers still sending.
      for (const deadline = Date.now() + 30_000; acknowledged.length < 100 && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      server.process.kill("SIGKILL");
      await Promise.all(writers);
      expect(acknowledged.length).toBeGreaterThan(10);

      server = await botboard.serve();
      const stored = new Set<number>();
      let cursor: string | null = null;
      do {
        const page: { posts: { id: number }[]; nextCursor: string | null } = await (
          await fetch(`${server.url}/api/v1/posts?limit=100${cursor ? `&cursor=${cursor}` : ""}`, {
            headers: { authorization: `Bearer ${token}` },
          })
        ).json();
        for (const post of page.posts) stored.add(post.id);
        cursor = page.nextCursor;
      } while (cursor);
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await botboard.close();
    }
  }, 90_000);
});
