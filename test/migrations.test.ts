import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { runBotboard, serveBotboard, stop } from "./support/cli.ts";
import { freshDatabase } from "./support/server.ts";

const shippedMigrations = (
  JSON.parse(readFileSync(new URL("../migrations/meta/_journal.json", import.meta.url), "utf8")) as {
    entries: unknown[];
  }
).entries.length;

describe("migrations on Postgres", () => {
  it("three processes migrating one empty database at once all succeed and apply each migration once, and say which they applied", async () => {
    const database = await freshDatabase("postgres", { empty: true });
    try {
      const results = await Promise.all([1, 2, 3].map(() => runBotboard(["migrate", "--json"], database.env)));
      for (const result of results) {
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
      }
      // Each says what it applied: together, every migration once.
      const applied = results.flatMap((result) => JSON.parse(result.stdout) as string[]);
      expect(new Set(applied).size).toBe(shippedMigrations);
      expect(applied).toHaveLength(shippedMigrations);
      const client = postgres(database.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
      const [row] = await client`select count(*)::int as applied from drizzle.__drizzle_migrations`;
      await client.end();
      expect(row!.applied).toBe(shippedMigrations);
    } finally {
      await database.drop();
    }
  });

  it("two servers starting together on one database both come up, with one team", async () => {
    const database = await freshDatabase("postgres", { empty: true });
    const servers = await Promise.all([0, 1].map(() => serveBotboard({ ...database.env, PORT: "0" })));
    try {
      for (const server of servers) expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const teams = await runBotboard(["team", "list", "--json"], database.env);
      expect(JSON.parse(teams.stdout)).toHaveLength(1);
    } finally {
      await Promise.all(servers.map((server) => stop(server.process)));
      await database.drop();
    }
  });

  it("a server with a pool of one connection (BOTBOARD_DB_POOL_SIZE=1) migrates an empty database and comes up", async () => {
    const database = await freshDatabase("postgres", { empty: true });
    try {
      const server = await serveBotboard({ ...database.env, PORT: "0", BOTBOARD_DB_POOL_SIZE: "1" }, { startTimeoutMs: 20_000 });
      try {
        expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      } finally {
        await stop(server.process);
      }
    } finally {
      await database.drop();
    }
  }, 30_000);
});

describe("the embedded database", () => {
  it("refuses a second server on the same folder instead of corrupting it", async () => {
    const database = await freshDatabase("pglite");
    const first = await serveBotboard({ ...database.env, PORT: "0" });
    try {
      const second = await runBotboard(["serve"], { ...database.env, PORT: "0" });
      expect(second.code).not.toBe(0);
      expect(second.stderr).toMatch(/is in use by process \d+/);
    } finally {
      await stop(first.process);
      await database.drop();
    }
  });
});
