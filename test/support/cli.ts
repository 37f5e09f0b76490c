import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DatabaseKind, freshDatabase } from "./server.ts";

export const botboardBin = fileURLToPath(new URL("../../server/botboard.js", import.meta.url));

export type CliResult = { code: number | null; stdout: string; stderr: string };

/**
 * Runs a command without blocking this process (which may be serving what the command calls);
 * `input` is written to its standard input.
 */
export function runProcess(
  command: string,
  args: string[],
  { env = {}, cwd, input }: { env?: Record<string, string>; cwd?: string; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** A port nothing listens on: taken from the system, then let go. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs the real `botboard` command with the given environment. */
export function runBotboard(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return runProcess(process.execPath, [botboardBin, ...args], { env, input });
}

const moduleRecorder = fileURLToPath(new URL("./record-modules.mjs", import.meta.url));

/** The modules a `botboard` command loaded, by URL, and how it ended. */
export async function modulesLoadedBy(args: string[], env: Record<string, string>): Promise<CliResult & { loaded: string[] }> {
  const recorded = join(mkdtempSync(join(tmpdir(), "botboard-modules-")), "modules.txt");
  const run = await runProcess(process.execPath, ["--import", moduleRecorder, botboardBin, ...args], {
    env: { ...env, BOTBOARD_RECORD_MODULES: recorded },
  });
  return { ...run, loaded: readFileSync(recorded, "utf8").split("\n") };
}

/** `botboard agent add NAME --json` with the given environment; returns the new token. */
export async function addAgentWithCli(name: string, env: Record<string, string>, flags: string[] = []): Promise<string> {
  const result = await runBotboard(["agent", "add", name, "--json", ...flags], env);
  if (result.code !== 0) throw new Error(`agent add ${name} exited with ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout).token;
}

export type ServedBotboard = {
  process: ChildProcess;
  /** Everything it printed so far, standard output and error together. */
  output: () => string;
  /** The address it listens on, as it printed it (with PORT=0, the port the system gave it). */
  url: string;
  /** Resolves once its output contains `text` (a log line is printed after its response is sent). */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
};

/**
 * Starts `botboard serve` as its own process and resolves once it prints that it is serving. `bin`
 * runs another copy of the command (an installed package's), in `cwd`.
 */
export function serveBotboard(
  env: Record<string, string>,
  {
    args = [],
    bin = botboardBin,
    cwd,
    startTimeoutMs = 30_000,
  }: { args?: string[]; bin?: string; cwd?: string; startTimeoutMs?: number } = {},
): Promise<ServedBotboard> {
  return new Promise((resolve, reject) => {
    // One process unless the test asks for workers: the suites test one server process, and on Postgres
    // `serve` would otherwise start one per core, each with its own start-up.
    const serveArgs = args.includes("--workers") ? args : ["--workers", "1", ...args];
    const child = spawn(process.execPath, [bin, "serve", ...serveArgs], { env: { ...process.env, ...env }, cwd, stdio: "pipe" });
    let output = "";
    const waiters = new Set<() => void>();
    // A server that did not start in time is stopped, not left running after the test.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve did not start:\n${output}`));
    }, startTimeoutMs);
    const waitForOutput = (text: string, timeoutMs = 10_000) =>
      new Promise<void>((found, missing) => {
        const check = () => {
          if (!output.includes(text)) return;
          waiters.delete(check);
          clearTimeout(giveUp);
          found();
        };
        const giveUp = setTimeout(() => {
          waiters.delete(check);
          missing(new Error(`no "${text}" in the output within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    const onData = (chunk: Buffer) => {
      output += chunk;
      for (const check of [...waiters]) check();
      const match = /listening on (http:\/\/\S+)\)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ process: child, output: () => output, url: match[1]!, waitForOutput });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
}

export function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

export type BotboardOnFreshDatabase = {
  /** What `botboard` commands need to reach this database (and serve on port 0). */
  env: Record<string, string>;
  /** Starts `botboard serve` on it; each call another process (after a restart, say). */
  serve(args?: string[]): Promise<ServedBotboard>;
  /** Stops every process `serve` started and drops the database. */
  close(): Promise<void>;
};

/** The real command on a fresh database of the given kind, as an operator runs it. */
export async function botboardOnFreshDatabase(
  kind: DatabaseKind,
  environment: Record<string, string> = {},
): Promise<BotboardOnFreshDatabase> {
  const database = await freshDatabase(kind);
  const env = { ...database.env, PORT: "0", ...environment };
  const started: ChildProcess[] = [];
  return {
    env,
    async serve(args = []) {
      const served = await serveBotboard(env, { args });
      started.push(served.process);
      return served;
    },
    async close() {
      await Promise.all(started.map(stop));
      await database.drop();
    },
  };
}
