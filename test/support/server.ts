import { sql } from "drizzle-orm";
import { addAgentToken } from "../../server/domain/agents.ts";
import { loadConfig, type Config } from "../../server/config.ts";
import { openDatabase, type Db } from "../../server/db/client.ts";
import { freshDatabase as freshDatabaseOf, type FreshDatabase } from "../../server/db/fresh-database.ts";
import { startServer, type RunningServer } from "../../server/main.ts";
import { cli } from "../../server/domain/callers.ts";
import { createTeam, listTeams, type Team } from "../../server/domain/teams.ts";
import { acceptInvite, createInvite, createSession, sessionCookieName } from "../../server/domain/users.ts";
import { copyOfTemplate, testDatabasePrefix } from "./spare-databases.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

export type DatabaseKind = "pglite" | "postgres";

/** Every suite runs once per database: the embedded one and the real Postgres of this machine. */
export const databaseKinds: DatabaseKind[] = ["pglite", "postgres"];

/** The server that holds the per-run test databases; override with TEST_POSTGRES_URL. */
export const adminPostgresUrl = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export type TestServer = RunningServer & {
  config: Config;
  /** Creates a team with the given slug. */
  team(slug: string): Promise<Team>;
  /** Creates an agent in a team and returns its bearer token. */
  agent(team: Team, name: string, options?: { scopes?: string[]; pickName?: boolean }): Promise<string>;
  /** Creates an engineer account and returns a session cookie ("name=value") for it. */
  engineer(team: Team, username: string, role?: "admin" | "member"): Promise<string>;
  /**
   * Waits until every post written so far can be delivered: on Postgres, until no write transaction
   * older than the newest post is still open anywhere in the cluster (other test files create and
   * drop databases meanwhile), so a test can assert exactly what a read returns.
   */
  settled(): Promise<void>;
  /** fetch against the server with an agent token. */
  as(token: string, path: string, init?: RequestInit): Promise<Response>;
  /** Another server process (in this test process) on the same Postgres; close it before this one. */
  replica(environment?: Record<string, string>): Promise<RunningServer>;
};

/** Name the migrated databases that the global set-up makes for fresh ones to copy. */
export const pgliteTemplateVariable = "BOTBOARD_TEST_PGLITE_TEMPLATE";
export const postgresTemplateVariable = "BOTBOARD_TEST_POSTGRES_TEMPLATE";

/**
 * A fresh database for one test file: a temporary PGlite folder or a new Postgres database. Both
 * are copies of the global set-up's migrated ones, when there are any (migrating costs about a
 * second per database), made ahead of time; `empty` asks for one no migration has touched.
 */
export async function freshDatabase(kind: DatabaseKind, { empty = false } = {}): Promise<FreshDatabase> {
  const template = empty ? undefined : process.env[kind === "pglite" ? pgliteTemplateVariable : postgresTemplateVariable];
  try {
    if (template) return await copyOfTemplate(kind, template, adminPostgresUrl);
    return await freshDatabaseOf(kind, { postgresUrl: adminPostgresUrl, namePrefix: testDatabasePrefix() });
  } catch (error) {
    throw new Error(`${(error as Error).message} (tests need it; start it with: pg_ctlcluster 15 main start)`);
  }
}

export async function allPostsDeliverable(db: Db, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db
      .select({ ready: sql<boolean>`coalesce((select max(tx_id) from posts) < pg_snapshot_xmin(pg_current_snapshot()), true)` })
      .from(sql`(select 1) as one`);
    if (row?.ready) return;
    if (Date.now() > deadline) throw new Error("posts did not become deliverable: a write transaction stayed open");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Agents in the one team of a Postgres database that `botboard serve` processes share, made through
 * the domain: what `botboard agent add` does, without a process per agent. Returns their tokens.
 */
export async function addAgentsIn(databaseUrl: string, names: string[]): Promise<string[]> {
  const database = await openDatabase({ databaseUrl, dataDir: "", poolSize: 1 });
  try {
    const teams = await listTeams(database.db);
    if (teams.length !== 1) throw new Error(`expected the one team made at first start, found ${teams.length}`);
    const tokens: string[] = [];
    for (const name of names) tokens.push((await addAgentToken(database.db, cli, { teamId: teams[0]!.id, name })).token);
    return tokens;
  } finally {
    await database.close();
  }
}

/**
 * A real server on port 0 on a fresh database of the given kind, or on the one `DATABASE_URL` in
 * `environment` names (which the caller then owns and drops).
 */
export async function startTestServer(
  kind: DatabaseKind,
  environment: Record<string, string> = {},
  observe: Parameters<typeof startServer>[1] = {},
): Promise<TestServer> {
  const database = environment.DATABASE_URL ? { env: {}, drop: async () => {} } : await freshDatabase(kind);
  const config = loadConfig({ PORT: "0", LOG_LEVEL: "warn", ...database.env, ...environment });
  const server = await startServer(config, observe);
  const publicUrl = server.url;
  const { db } = server.database;
  return {
    ...server,
    config,
    url: publicUrl,
    async close() {
      await server.close();
      await database.drop();
    },
    team: (slug) => createTeam(db, { name: `Team ${slug}`, slug }),
    settled: () => allPostsDeliverable(db),
    async agent(team, name, options = {}) {
      const created = await addAgentToken(db, cli, { teamId: team.id, name, ...options });
      return created.token;
    },
    async engineer(team, username, role = "admin") {
      const invite = await createInvite(db, cli, { teamId: team.id, role });
      const user = await acceptInvite(db, { secret: invite.secret, username, password: "correct horse battery" });
      // The session a sign-in opens, without hashing the password again (the sign-in has tests of its own).
      const session = await createSession(db, user.id);
      return `${sessionCookieName}=${session.token}`;
    },
    as(token, path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      if (init.body && !headers.has("content-type")) headers.set("content-type", "application/json");
      return fetch(`${publicUrl}${path}`, { ...init, headers });
    },
    replica(environment = {}) {
      if (!config.databaseUrl) throw new Error("only Postgres can be shared by several server processes");
      return startServer(loadConfig({ PORT: "0", LOG_LEVEL: "warn", DATABASE_URL: config.databaseUrl, ...environment }));
    },
  };
}

export type ProxiedTestServer = {
  /** Reaches Postgres through the proxy, which the test can cut and restore. */
  server: TestServer;
  proxy: TcpProxy;
  /** The same database, reached directly. */
  directUrl: string;
  close(): Promise<void>;
};

/** A test server on a fresh Postgres database that it reaches through a TCP proxy, to play outages. */
export async function startProxiedTestServer(environment: Record<string, string> = {}): Promise<ProxiedTestServer> {
  const database = await freshDatabase("postgres");
  const direct = new URL(database.env.DATABASE_URL!);
  const proxy = await startTcpProxy(Number(direct.port || 5432), direct.hostname);
  const proxied = new URL(direct);
  proxied.port = String(proxy.port);
  const server = await startTestServer("postgres", { ...environment, DATABASE_URL: proxied.toString() });
  return {
    server,
    proxy,
    directUrl: direct.toString(),
    async close() {
      // After an outage the server's pool may be broken; the database is dropped regardless.
      await server.close().catch(() => undefined);
      await proxy.close();
      await database.drop();
    },
  };
}
