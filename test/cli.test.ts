import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli } from "../server/cli/program.ts";
import { listeningOn, loadConfig } from "../server/config.ts";
import { openDatabase } from "../server/db/client.ts";
import { agentTokens } from "../server/db/schema/index.ts";
import { eventsChannel } from "../server/domain/events.ts";
import { botboardDoors } from "../server/commands.ts";
import {
  botboardOnFreshDatabase,
  modulesLoadedBy,
  runBotboard,
  stop,
  type BotboardOnFreshDatabase,
  type ServedBotboard,
} from "./support/cli.ts";
import { adminPostgresUrl, databaseKinds } from "./support/server.ts";

describe.each(databaseKinds)("the botboard command on %s", (kind) => {
  let botboard: BotboardOnFreshDatabase;
  let server: ServedBotboard;
  let env: Record<string, string>;

  beforeAll(async () => {
    botboard = await botboardOnFreshDatabase(kind);
    env = botboard.env;
    server = await botboard.serve();
  }, 60_000);
  afterAll(() => botboard?.close());

  it("prints a one-time setup link on the first start, which creates the first admin once", async () => {
    const link = /(http:\/\/\S+\/setup\?token=(\S+))/.exec(server.output());
    expect(link).not.toBeNull();
    // PORT=0: the system chose the port, and the links name it.
    const { port } = new URL(server.url);
    expect(server.output()).toContain(`Botboard is serving http://localhost:${port} (listening on ${server.url})`);
    expect(link![1]).toMatch(new RegExp(`^http://localhost:${port}/setup\\?token=`));
    const setup = (token: string) =>
      fetch(`${server.url}/auth/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, username: "ada", password: "a long enough password" }),
      });
    const created = await setup(link![2]!);
    expect(created.status).toBe(201);
    expect(created.headers.get("set-cookie")).toMatch(/botboard_session=.*HttpOnly.*SameSite=Lax/i);
    expect((await created.json()).user).toMatchObject({ username: "ada", role: "admin" });
    const again = await setup(link![2]!);
    expect(again.status).toBe(400);
    expect((await again.json()).error.message).toMatch(/invalid, used or expired/);
  });

  it("agent revoke --json that ends a claim prints its JSON alone, and the claim's note wakes the live feeds", async () => {
    const token = JSON.parse((await runBotboard(["agent", "add", "claimer", "--json"], env)).stdout).token as string;
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const claimed = await fetch(`${server.url}/api/v1/claims`, {
      method: "POST",
      headers,
      body: JSON.stringify({ paths: ["infra/**"], reason: "moving hosts" }),
    });
    expect(claimed.status).toBe(201);
    // On Postgres the command writes the note itself, then its wake-up: heard here as the servers hear it.
    const listener = kind === "postgres" ? postgres(env.DATABASE_URL!, { max: 1 }) : undefined;
    const wakeUps: string[] = [];
    await listener?.listen(eventsChannel, (payload) => wakeUps.push(payload));
    try {
      const revoked = await runBotboard(["agent", "revoke", "claimer", "--json"], env);
      expect(revoked.code).toBe(0);
      expect(JSON.parse(revoked.stdout)).toEqual({ revoked: [expect.stringMatching(/^bb_/)] });
      if (listener) await expect.poll(() => wakeUps.some((payload) => payload.includes('"posts.created"'))).toBe(true);
    } finally {
      await listener?.end();
    }
  });

  it("agent add prints a token once that works at once; revoke stops it on the next request", async () => {
    const added = await runBotboard(["agent", "add", "builder-1", "--json"], env);
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    const { token, prefix, scopes } = JSON.parse(added.stdout);
    expect(token).toMatch(/^bb_[a-z2-7]{52}$/);
    expect(token.startsWith(prefix)).toBe(true);
    expect(scopes).toEqual(["read", "write"]);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const posted = await fetch(`${server.url}/api/v1/posts`, { method: "POST", headers, body: JSON.stringify({ content: "hello" }) });
    expect(posted.status).toBe(201);

    const listed = await runBotboard(["agent", "list"], env);
    expect(listed.stdout).toContain("builder-1\t1 post\t");
    expect(listed.stdout).toContain(`${prefix}…`);
    expect(listed.stdout).not.toContain(token);

    const revoked = await runBotboard(["agent", "revoke", prefix], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked ${prefix}…`);
    expect((await fetch(`${server.url}/api/v1/me`, { headers })).status).toBe(401);
    expect((await runBotboard(["agent", "list"], env)).stdout).toContain("REVOKED");
  });

  it("agent list shows an expired token as expired, not live", async () => {
    const added = await runBotboard(["agent", "add", "mayfly", "--expires-in", "1", "--json"], env);
    const { prefix } = JSON.parse(added.stdout);
    // A token is made to last a minute at least: this one's day is moved into the past (the embedded
    // database belongs to the running server, so that is stopped meanwhile).
    if (kind === "pglite") await stop(server.process);
    const database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.BOTBOARD_DATA_DIR ?? "" });
    try {
      await database.db.update(agentTokens).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(agentTokens.prefix, prefix));
    } finally {
      await database.close();
    }
    if (kind === "pglite") server = await botboard.serve();
    const listed = await runBotboard(["agent", "list"], env);
    expect(listed.stdout).toMatch(new RegExp(`${prefix}….*EXPIRED`));
    const listedAsJson = await runBotboard(["agent", "list", "--json"], env);
    expect(listedAsJson.stderr).toBe("");
    const mayfly = JSON.parse(listedAsJson.stdout).find((agent: { name: string }) => agent.name === "mayfly");
    expect(mayfly.tokens[0].status).toBe("expired");
  });

  /** The modules a `botboard` command loaded, by URL; it must succeed. */
  const loadedBy = async (args: string[]) => {
    const { code, stderr, loaded } = await modulesLoadedBy(args, env);
    expect(code, stderr).toBe(0);
    return loaded;
  };

  it.runIf(kind === "pglite")("asking the running server loads no database layer, web framework or domain rule", async () => {
    const loaded = await loadedBy(["agent", "list"]);
    expect(loaded).toContainEqual(expect.stringMatching(/server\/cli\/admin-client\.(ts|js)$/));
    expect(
      loaded.filter((url) =>
        /\/server\/db\/|\/server\/cli\/operations\.|drizzle-orm|@electric-sql|\/postgres\/src\/|\/hono\/dist\/hono/.test(url),
      ),
    ).toEqual([]);
  });

  it.runIf(kind === "postgres")("a command that opens the database loads the rules of its operation, not every operation's", async () => {
    const loaded = await loadedBy(["team", "list"]);
    expect(loaded).toContainEqual(expect.stringMatching(/server\/cli\/operations\.(ts|js)$/));
    expect(loaded.filter((url) => /\/server\/domain\/(agents|engineers|users|team-archive|bench-runs)\./.test(url))).toEqual([]);
  });

  it("agent add with --pick-name and read-only scopes", async () => {
    const added = await runBotboard(["agent", "add", "swarm", "--pick-name", "--scopes", "read", "--json"], env);
    const { token, pickName, scopes } = JSON.parse(added.stdout);
    expect({ pickName, scopes }).toEqual({ pickName: true, scopes: ["read"] });
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(await me.json()).toMatchObject({ pickName: true, scopes: ["read"] });
  });

  it("refuses bad arguments with a clear message and a non-zero exit", async () => {
    const badScope = await runBotboard(["agent", "add", "x", "--scopes", "admin"], env);
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toContain("Unknown scope 'admin'");
    const badName = await runBotboard(["agent", "add", "<script>"], env);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain("An agent name is 1-64 characters");
    const unknownTeam = await runBotboard(["agent", "list", "--team", "nope"], env);
    expect(unknownTeam.stderr).toContain("No team 'nope'");
    const missing = await runBotboard(["agent", "revoke", "nobody"], env);
    expect(missing.stderr).toContain("No live token");
  });

  it("agent add refuses an expiry past ten years in one line, and creates nothing", async () => {
    for (const days of ["1e9", "3651"]) {
      const far = await runBotboard(["agent", "add", "far-future", "--expires-in", days], env);
      expect(far.code).toBe(1);
      expect(far.stderr.trim()).toBe("botboard: A token expires at most 3650 days (ten years) from now.");
    }
    expect((await runBotboard(["agent", "list"], env)).stdout).not.toContain("far-future");
  });

  it("agent add refuses an expiry under a minute, which would make a token dead on arrival", async () => {
    const soon = await runBotboard(["agent", "add", "short-lived", "--expires-in", "0.00001"], env);
    expect(soon.code).toBe(1);
    expect(soon.stderr.trim()).toBe("botboard: A token expires at least 1 minute from now.");
    expect((await runBotboard(["agent", "list"], env)).stdout).not.toContain("short-lived");
  });

  it("teams: add, list, and commands that then need --team", async () => {
    expect((await runBotboard(["team", "add", "Platform Crew"], env)).stdout).toContain("slug platform-crew");
    expect((await runBotboard(["team", "list"], env)).stdout).toMatch(/team\tMy team\nplatform-crew\tPlatform Crew/);
    const ambiguous = await runBotboard(["agent", "add", "x"], env);
    expect(ambiguous.stderr).toContain("say which with --team");
    const added = await runBotboard(["agent", "add", "x", "--team", "platform-crew", "--json"], env);
    expect(JSON.parse(added.stdout).team).toBe("platform-crew");
    const invite = await runBotboard(["user", "add", "--team", "platform-crew", "--role", "member"], env);
    expect(invite.stdout).toMatch(
      /One-time link for a new member of platform-crew \(valid 1 hour\):\n\s+http:\/\/localhost:\d+\/setup\?token=/,
    );
  });

  it("team add refuses a name an import of the team's archive would refuse: hidden characters, line breaks, too long", async () => {
    for (const [name, message] of [
      ["Evil\nTeam\u0007", "botboard: A team name contains U+000A at character 5"],
      ["T\u202e", "botboard: A team name contains U+202E at character 2"],
      ["x".repeat(100_000), "botboard: A team name is limited to 200 characters."],
    ]) {
      const added = await runBotboard(["team", "add", name!, "--slug", "evil"], env);
      expect(added.code, name!.slice(0, 20)).toBe(1);
      expect(added.stderr).toContain(message);
    }
    expect((await runBotboard(["team", "list"], env)).stdout).not.toContain("evil");
  });

  it("data survives a restart", async () => {
    await stop(server.process);
    server = await botboard.serve();
    expect(server.output()).not.toContain("setup?token=");
    expect((await runBotboard(["agent", "list", "--team", "team"], env)).stdout).toContain("builder-1\t1 post\t");
  });
});

describe("configuration", () => {
  it("an invalid variable stops start-up with a message naming it", async () => {
    const result = await runBotboard(["serve"], { PORT: "eighty", BOTBOARD_DATA_DIR: "/tmp/unused-botboard" });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain("Invalid configuration");
    expect(result.stderr).toContain("PORT");
    const url = await runBotboard(["migrate"], { DATABASE_URL: "mysql://nope" });
    expect(url.stderr).toContain("DATABASE_URL: must be a postgres:// or postgresql:// URL");
  });

  it("a BOTBOARD_DATA_DIR that is a file or cannot be created is refused in one line naming it", async () => {
    const cases = [
      { dataDir: "/etc/passwd", message: "BOTBOARD_DATA_DIR /etc/passwd is not a folder" },
      { dataDir: "/etc/passwd/botboard", message: "BOTBOARD_DATA_DIR /etc/passwd/botboard is not a folder (/etc/passwd is a file)" },
      // Node's recursive mkdir loops for ever under /proc.
      { dataDir: "/proc/nope", message: "BOTBOARD_DATA_DIR /proc/nope cannot be created (ENOENT on /proc/nope)" },
    ];
    for (const { dataDir, message } of cases) {
      for (const args of [["serve"], ["team", "list"]]) {
        const result = await runBotboard(args, { BOTBOARD_DATA_DIR: dataDir, PORT: "0" });
        expect(result.code, `${dataDir} ${args}`).toBe(78);
        expect(result.stderr.trim(), `${dataDir} ${args}`).toBe(`botboard: ${message}`);
      }
    }
  });

  it("a port in use or a HOST that is not this machine's stops serve, with or without workers, in one line naming it, before it opens the database", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    // Databases serve cannot have opened: a folder it would have created (and spent seconds migrating),
    // a Postgres nothing listens on (its refusal would have been the message).
    const dataDir = join(mkdtempSync(join(tmpdir(), "botboard-address-")), "never-opened");
    const databases = {
      pglite: { BOTBOARD_DATA_DIR: dataDir },
      postgres: { DATABASE_URL: "postgres://postgres@127.0.0.1:1/botboard_unreachable" },
    };
    try {
      const cases: { env: Record<string, string>; message: string }[] = [
        { env: { PORT: String(port) }, message: `PORT ${port} is in use on 127.0.0.1` },
        { env: { PORT: "0", HOST: "8.8.8.8" }, message: "HOST 8.8.8.8 is not an address of this machine" },
        { env: { PORT: "0", HOST: "999.1.1.1" }, message: "HOST 999.1.1.1 is neither an address nor a name this machine resolves" },
      ];
      for (const { env, message } of cases) {
        for (const [args, database] of [
          [["serve"], databases.pglite],
          [["serve", "--workers", "2"], databases.postgres],
        ] as const) {
          const result = await runBotboard([...args], { ...database, ...env });
          expect(result.stderr.trim(), `${args} ${message}`).toBe(`botboard: ${message}`);
          expect(result.code, `${args} ${message}`).toBe(78);
          expect(existsSync(dataDir), `${args} ${message}`).toBe(false);
        }
      }
    } finally {
      taken.close();
      rmSync(dirname(dataDir), { recursive: true, force: true });
    }
  }, 60_000);

  it("with PORT=0 the public URL names the port listened on, unless BOTBOARD_PUBLIC_URL gives one", () => {
    expect(listeningOn(loadConfig({ PORT: "0" }), 4321).publicUrl).toBe("http://localhost:4321");
    const given = loadConfig({ PORT: "0", BOTBOARD_PUBLIC_URL: "https://board.example.com" });
    expect(listeningOn(given, 4321).publicUrl).toBe("https://board.example.com");
    expect(listeningOn(given, 4321).webhooks.publicUrl).toBe("https://board.example.com");
  });

  it("a database that does not exist or a role it refuses stops a command, or serve, with one line, not a stack trace", async () => {
    const database = (path: string, user = "postgres") => {
      const url = new URL(adminPostgresUrl);
      url.username = user;
      url.pathname = path;
      return url.toString();
    };
    const cases = [
      { args: ["team", "list"], url: database("/botboard_never_created"), reason: 'database "botboard_never_created" does not exist' },
      {
        args: ["serve", "--workers", "1"],
        url: database("/botboard_never_created"),
        reason: 'database "botboard_never_created" does not exist',
      },
      {
        args: ["team", "list"],
        url: database(new URL(adminPostgresUrl).pathname, "botboard_no_such_role"),
        reason: 'role "botboard_no_such_role" does not exist',
      },
    ];
    for (const { args, url, reason } of cases) {
      const result = await runBotboard(args, { DATABASE_URL: url, PORT: "0" });
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr.trim()).toBe(`botboard: cannot use the database: ${reason}. Check DATABASE_URL, and that Postgres is running.`);
    }
  });

  it("a trial timeout past a day, or of nothing, is refused before anything runs (a timer past 24.8 days fires at once)", async () => {
    for (const timeout of ["1000000h", "0s"]) {
      const result = await runBotboard(["bench", "run", "--timeout", timeout], { BOTBOARD_DATA_DIR: "/tmp/unused-botboard" });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`argument '${timeout}' is invalid. must be a duration from 1ms to 24h`);
    }
  });

  it("a billion trials at a time or a billion repeats are refused before anything runs", async () => {
    for (const [option, max] of [
      ["--concurrency", 64],
      ["--repeats", 1000],
    ] as const) {
      const result = await runBotboard(["bench", "run", option, "1e9"], { BOTBOARD_DATA_DIR: "/tmp/unused-botboard" });
      expect(result.code, option).toBe(1);
      expect(result.stderr, option).toContain(`argument '1e9' is invalid. must be a whole number from 1 to ${max}`);
    }
  });

  it("every command and subcommand has a description and help", () => {
    const commands: Command[] = [];
    const collect = (command: Command) => {
      commands.push(command);
      for (const subcommand of command.commands) collect(subcommand);
    };
    collect(buildCli(botboardDoors));
    expect(commands.map((command) => command.name())).toEqual(expect.arrayContaining(["serve", "agent", "add", "bench", "load", "mcp"]));
    for (const command of commands) {
      expect(command.description(), command.name()).not.toBe("");
      expect(command.helpInformation(), command.name()).toMatch(/^Usage: botboard/);
    }
  });

  it("--help exits 0 from the real command", async () => {
    const results = await Promise.all([[], ["agent", "add"]].map((command) => runBotboard([...command, "--help"], {})));
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Usage: botboard");
    }
  });
});
