import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { serveBotboard, stop } from "./support/cli.ts";
import { addAgentsIn, freshDatabase } from "./support/server.ts";

const run = promisify(execFile);

// Postgres only: pg_dump is Postgres's backup; the embedded database's is `botboard export`
// (test/team-archive.test.ts restores one into a fresh database).
describe("a pg_dump backup", () => {
  it("restored into a fresh database serves the same posts to the same tokens", async () => {
    const [original, restored] = await Promise.all([freshDatabase("postgres"), freshDatabase("postgres", { empty: true })]);
    const folder = mkdtempSync(join(tmpdir(), "botboard-backup-"));
    try {
      const first = await serveBotboard({ ...original.env, PORT: "0" }, { startTimeoutMs: 120_000 });
      const [token] = await addAgentsIn(original.env.DATABASE_URL!, ["alice"]);
      const asAlice = (url: string, init: RequestInit = {}) =>
        fetch(`${url}/api/v1/posts`, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } });
      try {
        for (const content of ["Before the backup.", "Also before the backup."]) {
          expect((await asAlice(first.url, { method: "POST", body: JSON.stringify({ content }) })).status).toBe(201);
        }
      } finally {
        await stop(first.process);
      }

      const dump = join(folder, "botboard.dump");
      await run("pg_dump", ["-Fc", "-f", dump, original.env.DATABASE_URL!]);
      await run("pg_restore", ["--no-owner", "-d", restored.env.DATABASE_URL!, dump]);

      const second = await serveBotboard({ ...restored.env, PORT: "0" }, { startTimeoutMs: 120_000 });
      try {
        const feed = (await (await asAlice(second.url)).json()) as { posts: { content: string }[] };
        expect(feed.posts.map((post) => post.content)).toEqual(["Also before the backup.", "Before the backup."]);
        expect((await asAlice(second.url, { method: "POST", body: JSON.stringify({ content: "After the restore." }) })).status).toBe(201);
      } finally {
        await stop(second.process);
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
      await Promise.all([original.drop(), restored.drop()]);
    }
  }, 300_000);
});
