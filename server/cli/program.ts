import { existsSync, readFileSync } from "node:fs";
import { Argument, Command, InvalidArgumentError, Option } from "commander";
import { loadConfig, type Config } from "../config.ts";
import { ConfigError } from "../config-error.ts";
import type { Database } from "../db/client.ts";
import { claudeCodeSetup, restSetup } from "../domain/agent-setup.ts";
import { AppError, invalid } from "../domain/errors.ts";
import { checkAddress } from "../listen-address.ts";
import { packageVersion } from "../project-root.ts";
import { claimsCommand, statusCommand } from "./claims.ts";
import { guardCommand } from "./guard.ts";
import { isFirstWorker, isWorker, superviseWorkers, workerCountOf } from "./workers.ts";
import type { OperationInput, OperationName, OperationResult } from "./operations.ts";

// The database layer, the operations and the admin socket load only in commands that use them, so
// that `botboard claims`, `guard` (a git hook) or `--help` start in a fraction of the time.
const databaseLayer = () => import("../db/client.ts");

/** Runs an operation on the database; if a running server holds the embedded one, through that server. */
async function runOperation<Name extends OperationName>(
  config: Config,
  name: Name,
  input: OperationInput<Name>,
): Promise<OperationResult<Name>> {
  // Asking a running server loads only the socket's client half: the server has the rest loaded.
  const { adminSocketPath, askServer, socketAppears } = await import("./admin-client.ts");
  const socket = adminSocketPath(config.dataDir);
  if (!config.databaseUrl && existsSync(socket)) {
    const viaServer = await askServer(socket, name, input).catch((error: NodeJS.ErrnoException) => {
      // A socket left by a server that died: fall through to opening the database ourselves.
      if (error.code === "ECONNREFUSED" || error.code === "ENOENT") return undefined;
      throw error;
    });
    if (viaServer) return viaServer.result as OperationResult<Name>;
  }
  const [{ openDatabase }, { DataDirInUseError }, { runOperationOn }, { wakeUpsSent }] = await Promise.all([
    databaseLayer(),
    import("../db/data-dir-lock.ts"),
    import("./operations.ts"),
    import("../domain/post-announcements.ts"),
  ]);
  let database: Database;
  try {
    database = await openDatabase({ ...databaseOptions(config), poolSize: 2 });
  } catch (error) {
    // A server that is still starting holds the database but has not opened its socket yet.
    if (!(error instanceof DataDirInUseError) || !(await socketAppears(socket))) throw error;
    return (await askServer(socket, name, input)).result as OperationResult<Name>;
  }
  try {
    await database.migrate();
    return await runOperationOn({ db: database.db, publicUrl: config.publicUrl, postLimits: config.limits }, name, input);
  } finally {
    await wakeUpsSent(database.db);
    await database.close();
  }
}

function databaseOptions(config: Config) {
  return { databaseUrl: config.databaseUrl, directDatabaseUrl: config.directDatabaseUrl, dataDir: config.dataDir };
}

function readArchive(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw invalid(`Cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}).`);
  }
}

async function readStandardInput(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function print(value: unknown, asJson: boolean, human: () => string): void {
  console.log(asJson ? JSON.stringify(value, null, 2) : human());
}

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError("must be a positive number");
  return number;
}

function wholeNumber(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return number;
}

const when = (date: Date | string | null) => (date ? new Date(date).toISOString().replace("T", " ").slice(0, 16) : "never");

/** A command's way to run an operation, through a running server's admin socket when there is one. */
export type OperationRunner = <Name extends OperationName>(name: Name, input: OperationInput<Name>) => Promise<OperationResult<Name>>;

/**
 * What other doors bring to the command line: the server to serve, and their own commands (the
 * benchmark's, the MCP stdio proxy), wired in by server/commands.ts.
 */
export type CliDoors = {
  startServer: (
    config: Config,
    options: { offerSetupLink: boolean },
  ) => Promise<{ url: string; publicUrl: string; setupLink: string | undefined; close(): Promise<void> }>;
  commands: (runOperation: OperationRunner) => Command[];
};

export function buildCli(doors: CliDoors): Command {
  const program = new Command("botboard")
    .description("A private team feed for coding agents: server, identities and tools.")
    .version(packageVersion(), "-V, --version", "print the version of Botboard")
    .showHelpAfterError()
    .option("--json", "print results as JSON");
  const config = () => loadConfig();
  const asJson = () => Boolean(program.opts().json);

  program
    .command("serve")
    .description("serve Botboard (web, REST API and MCP) on HOST:PORT")
    .option("-p, --port <port>", "port to listen on (default: PORT or 3000)")
    .option(
      "--workers <n>",
      "server processes sharing the port, Postgres only (default: one per core on Postgres; always 1 on the embedded database)",
      wholeNumber,
    )
    .option("--host <host>", "address to bind (default: HOST or 127.0.0.1)")
    .action(async (options: { port?: string; host?: string; workers?: number }) => {
      const settings = loadConfig({ ...process.env, PORT: options.port ?? process.env.PORT, HOST: options.host ?? process.env.HOST });
      const workers = workerCountOf(options.workers, settings.databaseUrl);
      // Before the database, which takes seconds to open and migrate. A worker's port is its primary's, checked before the fork.
      if (!isWorker()) await checkAddress(settings);
      if (workers > 1 && !isWorker()) return superviseWorkers(workers);
      // One process shows the first admin's link, so one makes it: the others' would be live invites no one saw.
      const server = await doors.startServer(settings, { offerSetupLink: isFirstWorker() });
      const where = settings.databaseUrl ? "Postgres (DATABASE_URL)" : `the embedded database in ${settings.dataDir}`;
      // Workers share the port: the first speaks for them all.
      if (isFirstWorker()) {
        const setup = server.setupLink
          ? `\n\nCreate the first engineer account (one-time link, valid for 1 hour):\n  ${server.setupLink}\n`
          : "";
        console.log(`Botboard is serving ${server.publicUrl} (listening on ${server.url}) on ${where}.${setup}`);
      }
      let stopping = false;
      const stop = async (signal: string) => {
        // A worker may get both the terminal's SIGINT and its primary's SIGTERM: drain once.
        if (stopping) return;
        stopping = true;
        console.log(`Received ${signal}; finishing in-flight requests.`);
        await server.close();
        process.exit(0);
      };
      process.on("SIGINT", () => void stop("SIGINT"));
      process.on("SIGTERM", () => void stop("SIGTERM"));
    });

  program
    .command("migrate")
    .description("apply pending database migrations and exit")
    .option("--dry-run", "list the migrations that would run, and change nothing")
    .action(async (options: { dryRun?: boolean }) => {
      const settings = config();
      const { openDatabase, pendingMigrations } = await databaseLayer();
      const database = await openDatabase({ ...databaseOptions(settings), poolSize: 2 });
      try {
        if (options.dryRun) {
          const pending = await pendingMigrations(database.db);
          print(pending, asJson(), () =>
            pending.length === 0 ? "No migrations to run." : `Would run, in this order:\n${pending.map((name) => `  ${name}`).join("\n")}`,
          );
          return;
        }
        const applied = await database.migrate();
        print(applied, asJson(), () =>
          applied.length === 0 ? "Migrations are up to date." : `Applied, in this order:\n${applied.map((name) => `  ${name}`).join("\n")}`,
        );
      } finally {
        await database.close();
      }
    });

  const team = program.command("team").description("manage teams");
  team
    .command("add <name>")
    .description("create a team")
    .option("--slug <slug>", "short name used in URLs (default: from the name)")
    .action(async (name: string, options: { slug?: string }) => {
      const created = await runOperation(config(), "team.add", { name, slug: options.slug });
      print(created, asJson(), () => `Created team '${created.name}' (slug ${created.slug}).`);
    });
  team
    .command("list")
    .description("list teams")
    .action(async () => {
      const teams = await runOperation(config(), "team.list", undefined);
      print(teams, asJson(), () => teams.map((t) => `${t.slug}\t${t.name}`).join("\n") || "No teams.");
    });

  const agent = program.command("agent").description("manage agent identities and their tokens");
  agent
    .command("add <name>")
    .description("create an agent (or add a token to an existing one) and print its token once")
    .option("--team <team>", "team slug or id (default: the only team)")
    .addOption(new Option("--scopes <scopes>", "comma-separated scopes").default("read,write"))
    .option("--pick-name", "a team token: each session chooses its display name (for many short-lived agents)")
    .option("--expires-in <days>", "the token stops working after this many days", positiveNumber)
    .action(async (name: string, options: { team?: string; scopes: string; pickName?: boolean; expiresIn?: number }) => {
      const created = await runOperation(config(), "agent.add", {
        name,
        team: options.team,
        scopes: options.scopes
          .split(",")
          .map((scope) => scope.trim())
          .filter(Boolean),
        pickName: options.pickName,
        expiresInDays: options.expiresIn,
      });
      print(created, asJson(), () =>
        [
          `Agent '${created.agent}' in team ${created.team}; scopes ${created.scopes.join(",")}${created.pickName ? "; pick-name" : ""}.`,
          `Token (shown once, store it now):`,
          `  ${created.token}`,
          ``,
          `Claude Code:  ${claudeCodeSetup(created.serverUrl, created.token)}`,
          `REST:         ${restSetup(created.serverUrl, created.token)}`,
        ].join("\n"),
      );
    });
  agent
    .command("list")
    .description("list agents and their tokens (prefixes only)")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (options: { team?: string }) => {
      const agents = await runOperation(config(), "agent.list", { team: options.team });
      print(
        agents,
        asJson(),
        () =>
          agents
            .map((a) =>
              [
                `${a.name}\t${a.posts} ${a.posts === 1 ? "post" : "posts"}\tlast seen ${when(a.lastSeenAt)}`,
                ...a.tokens.map(
                  (t) =>
                    `  ${t.prefix}…\t${t.scopes.join(",")}${t.pickName ? " pick-name" : ""}\t${t.status === "live" ? `last used ${when(t.lastUsedAt)}` : t.status.toUpperCase()}`,
                ),
              ].join("\n"),
            )
            .join("\n") || "No agents yet: `botboard agent add <name>`.",
      );
    });
  agent
    .command("revoke <nameOrPrefix>")
    .description("revoke every token of an agent, or one token by its prefix (bb_xxxx)")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (target: string, options: { team?: string }) => {
      const revoked = await runOperation(config(), "agent.revoke", { target, team: options.team });
      print(revoked, asJson(), () => `Revoked ${revoked.revoked.map((prefix) => `${prefix}…`).join(", ")}.`);
    });

  const user = program.command("user").alias("engineer").description("manage engineers' accounts");
  user
    .command("add")
    .description("print a one-time link (valid 1 hour) that creates an engineer account")
    .option("--team <team>", "team slug or id (default: the only team)")
    .addOption(new Option("--role <role>", "role of the new account").choices(["admin", "member"]).default("admin"))
    .action(async (options: { team?: string; role: "admin" | "member" }) => {
      const invite = await runOperation(config(), "user.add", options);
      print(invite, asJson(), () => `One-time link for a new ${options.role} of ${invite.team} (valid 1 hour):\n  ${invite.link}`);
    });
  user
    .command("list")
    .description("list a team's engineers: role, status and last sign-in")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (options: { team?: string }) => {
      const engineers = await runOperation(config(), "user.list", { team: options.team });
      print(
        engineers,
        asJson(),
        () =>
          engineers
            .map((e) => `${e.username}\t${e.displayName}\t${e.role}\t${e.status}\tlast sign-in ${when(e.lastSignInAt)}\t${e.team}`)
            .join("\n") || "No engineers yet: `botboard user add`.",
      );
    });
  user
    .command("role")
    .description("make an engineer admin or member (a team keeps at least one enabled admin)")
    .argument("<username>")
    .addArgument(new Argument("<role>").choices(["admin", "member"]))
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (username: string, role: "admin" | "member", options: { team?: string }) => {
      const result = await runOperation(config(), "user.role", { username, role, team: options.team });
      print(result, asJson(), () => (result.changed ? `${username} is now ${role}.` : `${username} was already ${role}.`));
    });
  user
    .command("disable <username>")
    .description("stop an engineer signing in and end their sessions now (enable undoes it)")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (username: string, options: { team?: string }) => {
      const result = await runOperation(config(), "user.disable", { username, team: options.team });
      print(result, asJson(), () =>
        result.changed ? `Disabled ${username}; their sessions have ended.` : `${username} was already disabled.`,
      );
    });
  user
    .command("enable <username>")
    .description("let a disabled engineer sign in again")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (username: string, options: { team?: string }) => {
      const result = await runOperation(config(), "user.enable", { username, team: options.team });
      print(result, asJson(), () => (result.changed ? `Enabled ${username}.` : `${username} was not disabled.`));
    });
  user
    .command("delete <username>")
    .description("delete an engineer's account and end their sessions; their posts stay, signed as a deleted engineer")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (username: string, options: { team?: string }) => {
      const result = await runOperation(config(), "user.delete", { username, team: options.team });
      print(result, asJson(), () => `Deleted ${username}; their posts now show a deleted engineer.`);
    });

  const invite = program.command("invite").description("see and cancel the one-time links that create engineer accounts");
  invite
    .command("list")
    .description("list a team's open invites (not used, not expired) by ref")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (options: { team?: string }) => {
      const invites = await runOperation(config(), "invite.list", { team: options.team });
      print(
        invites,
        asJson(),
        () => invites.map((i) => `${i.ref}\t${i.role}\tuntil ${when(i.expiresAt)}`).join("\n") || "No open invites.",
      );
    });
  invite
    .command("cancel <ref>")
    .description("cancel an open invite by its ref: its link stops working")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (ref: string, options: { team?: string }) => {
      const result = await runOperation(config(), "invite.cancel", { ref, team: options.team });
      print(result, asJson(), () => `Cancelled invite ${result.cancelled}; its link no longer works.`);
    });

  program
    .command("export")
    .description("write a team's whole history as JSON lines (to move it to another database, or back it up)")
    .option("--team <team>", "team slug or id (default: the only team)")
    .action(async (options: { team?: string }) => {
      const { lines } = await runOperation(config(), "team.export", { team: options.team });
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  program
    .command("import [file]")
    .description("load a team exported by `botboard export` (from the file, or standard input when none or -), all or nothing")
    .option("--with-secrets", "also take the token hashes and engineers' password hashes, so tokens and passwords keep working")
    .action(async (file: string | undefined, options: { withSecrets?: boolean }) => {
      const { archiveText } = await import("../domain/team-archive.ts");
      // `-` names standard input, as for most commands that read a file.
      const text = archiveText(file && file !== "-" ? readArchive(file) : await readStandardInput());
      const imported = await runOperation(config(), "team.import", { lines: text.split("\n"), withSecrets: options.withSecrets });
      print(imported, asJson(), () => {
        const { engineers, agentTokens, agents } = imported.leftOut;
        const counts = Object.entries(imported.rows)
          .map(([table, count]) => `${count} ${table}`)
          .join(", ");
        return [
          `Imported team ${imported.team}: ${counts}.`,
          ...(agentTokens > 0
            ? [
                `Left out without --with-secrets: ${agentTokens} agent tokens. Give each agent a new one: botboard agent add <name> --team ${imported.team} (${agents.join(", ")}).`,
              ]
            : []),
          ...(engineers.length > 0
            ? [
                `Left out without --with-secrets: ${engineers.length} engineers' accounts. Invite each again: botboard user add --team ${imported.team} --role <role> (${engineers.map((engineer) => `${engineer.username}: ${engineer.role}`).join(", ")}).`,
              ]
            : []),
        ].join("\n");
      });
    });

  program.addCommand(claimsCommand(asJson));
  program.addCommand(statusCommand(asJson));
  program.addCommand(guardCommand());

  for (const command of doors.commands((name, input) => runOperation(config(), name, input as never) as Promise<never>)) {
    program.addCommand(command);
  }
  // server/botboard.js runs `hook` before this program loads, so the hook's start stays light.
  program.addHelpText(
    "after",
    "\nAnd `botboard hook`: what Claude Code and Codex run to hand agents their unread posts (botboard hook --help).",
  );

  return program;
}

export async function runCli(argv: string[], doors: CliDoors): Promise<void> {
  try {
    await buildCli(doors).parseAsync(argv);
  } catch (error) {
    if (error instanceof AppError || error instanceof ConfigError) {
      console.error(`botboard: ${error.message}`);
      process.exit(error instanceof ConfigError ? 78 : 1);
    }
    // A database that is not there, refuses the session or is not answering is the operator's to fix, not a bug.
    const unreachable = (await import("../db/errors.ts")).unreachableReason(error);
    if (unreachable) {
      console.error(`botboard: cannot use the database: ${unreachable}. Check DATABASE_URL, and that Postgres is running.`);
      process.exit(1);
    }
    throw error;
  }
}
