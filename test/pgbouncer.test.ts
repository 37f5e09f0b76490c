import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { followEvents } from "./support/events.ts";
import { freshDatabase, startTestServer } from "./support/server.ts";

const pgbouncerBin = process.env.PGBOUNCER_BIN ?? "/usr/sbin/pgbouncer";

/** A port free now (pgbouncer cannot be given port 0 and report the one it got). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

/** PgBouncer in front of the test Postgres; it refuses to run as root, so then it runs as postgres. */
async function startPgBouncer(postgresUrl: URL, mode: "session" | "transaction"): Promise<{ port: number; stop(): Promise<void> }> {
  const folder = mkdtempSync(join(tmpdir(), "botboard-pgbouncer-"));
  chmodSync(folder, 0o777);
  const port = await freePort();
  writeFileSync(join(folder, "users.txt"), `"${postgresUrl.username}" ""\n`);
  writeFileSync(
    join(folder, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${postgresUrl.hostname} port=${postgresUrl.port || 5432}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(folder, "users.txt")}`,
      `pool_mode = ${mode}`,
      "max_client_conn = 100",
      // Few server connections, so that in transaction mode one client's statements move between them.
      `default_pool_size = ${mode === "session" ? 20 : 3}`,
      "ignore_startup_parameters = extra_float_digits,options",
      "",
    ].join("\n"),
  );
  const command = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", pgbouncerBin] : [pgbouncerBin];
  const child: ChildProcess = spawn(command[0]!, [...command.slice(1), join(folder, "pgbouncer.ini")], { stdio: "pipe" });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (/listening on 127\.0\.0\.1:\d+/.test(output)) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`pgbouncer exited with ${code}:\n${output}`)));
    child.on("error", reject);
  });
  return {
    port,
    async stop() {
      child.removeAllListeners("exit");
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

// Postgres only: a pooler sits in front of a Postgres server.
describe("Botboard through PgBouncer in session mode", () => {
  it("serves, posts, and delivers live events through the pooler", async () => {
    const database = await freshDatabase("postgres");
    const direct = new URL(database.env.DATABASE_URL!);
    const pooler = await startPgBouncer(direct, "session");
    const pooled = new URL(direct);
    pooled.port = String(pooler.port);
    const server = await startTestServer("postgres", { DATABASE_URL: pooled.toString() });
    try {
      const team = await server.team("pooled");
      const [token, cookie] = await Promise.all([server.agent(team, "alice"), server.engineer(team, "watcher")]);
      const feed = followEvents(server.url, cookie);
      try {
        await feed.waitFor((event) => event.event === "ready");
        const written = await server.as(token, "/api/v1/posts", {
          method: "POST",
          body: JSON.stringify({ content: "Through the pooler." }),
        });
        expect(written.status).toBe(201);
        const post = (await written.json()) as { id: number };
        await feed.waitFor((event) => event.id === String(post.id));
        const read = (await (await server.as(token, "/api/v1/posts")).json()) as { posts: { content: string }[] };
        expect(read.posts.map((each) => each.content)).toEqual(["Through the pooler."]);
        // PgBouncer refuses statement_timeout as a startup parameter: searches keep to a transaction that sets it.
        const found = (await (await server.as(token, "/api/v1/search?q=pooler")).json()) as { results: { post: { id: number } }[] };
        expect(found.results.map((result) => result.post.id)).toEqual([post.id]);
      } finally {
        feed.close();
      }
    } finally {
      await server.close();
      await pooler.stop();
      await database.drop();
    }
  }, 120_000);

  it("in transaction mode, with the direct URL for LISTEN and migrations, migrates, serves and delivers live events", async () => {
    const database = await freshDatabase("postgres", { empty: true });
    const direct = new URL(database.env.DATABASE_URL!);
    const pooler = await startPgBouncer(direct, "transaction");
    const pooled = new URL(direct);
    pooled.port = String(pooler.port);
    // The searches below run at once, as the writes do (by default one token's searches take turns,
    // each waiting at most a second, which a busy machine's ten searches through a pooler can outlast).
    const server = await startTestServer("postgres", {
      DATABASE_URL: pooled.toString(),
      BOTBOARD_DIRECT_DATABASE_URL: direct.toString(),
      BOTBOARD_SEARCHES_PER_TOKEN: "10",
      BOTBOARD_SEARCHES_PER_SERVER: "10",
    });
    try {
      const team = await server.team("pooled");
      const [token, cookie] = await Promise.all([server.agent(team, "alice"), server.engineer(team, "watcher")]);
      const feed = followEvents(server.url, cookie);
      try {
        await feed.waitFor((event) => event.event === "ready");
        // Many requests at once over 3 server connections: a prepared statement would meet a connection that lacks it.
        const writes = await Promise.all(
          Array.from({ length: 20 }, (_, index) =>
            server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: `Pooled post ${index}.` }) }),
          ),
        );
        expect(writes.map((response) => response.status)).toEqual(Array(20).fill(201));
        const reads = await Promise.all(Array.from({ length: 10 }, () => server.as(token, "/api/v1/search?q=pooled")));
        expect(reads.map((response) => response.status)).toEqual(Array(10).fill(200));
        const last = (await writes.at(-1)!.json()) as { id: number };
        await feed.waitFor((event) => event.id === String(last.id));
        const page = (await (await server.as(token, "/api/v1/posts?limit=50")).json()) as { posts: unknown[] };
        expect(page.posts).toHaveLength(20);
      } finally {
        feed.close();
      }
    } finally {
      await server.close();
      await pooler.stop();
      await database.drop();
    }
  }, 120_000);
});
