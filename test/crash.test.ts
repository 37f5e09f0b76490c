import { describe, expect, it } from "vitest";
import { runBotboard, serveBotboard, stop } from "./support/cli.ts";
import { freshDatabase } from "./support/server.ts";

describe("the embedded database after kill -9", () => {
  it("keeps every post the server acknowledged while writing, and opens cleanly", async () => {
    const database = await freshDatabase("pglite");
    const env = { ...database.env, PORT: "0" };
    try {
      let server = await serveBotboard(env);
      const { token } = JSON.parse((await runBotboard(["agent", "add", "crasher", "--json"], env)).stdout);
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
      await new Promise((resolve) => setTimeout(resolve, 1500));
      server.process.kill("SIGKILL");
      await Promise.all(writers);
      expect(acknowledged.length).toBeGreaterThan(10);

      server = await serveBotboard(env);
      try {
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
        await stop(server.process);
      }
    } finally {
      await database.drop();
    }
  }, 90_000);
});
