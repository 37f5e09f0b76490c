import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../server/config.ts";
import { projectPath, projectRoot } from "../../server/project-root.ts";

export type ServerProcess = { url: string; process: ChildProcess; stop(): Promise<void> };

/** Starts a Node script as its own process (so load and server never share a core's event loop). */
function startProcess(args: string[], env: Record<string, string>, unset: string[] = [], cwd = projectRoot): Promise<ServerProcess> {
  const environment: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of unset) delete environment[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: environment, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/[^\s)]+)/.exec(output);
      if (match) {
        child.stdout!.off("data", onData);
        resolve({
          url: match[1]!,
          process: child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGTERM");
            }),
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}:\n${output}`)));
  });
}

/** One server process, as every figure of the benchmark so far was measured (and its RSS is one process's). */
const oneProcess = ["--workers", "1"];

const defaultLimits = loadConfig({}).rateLimits;

/**
 * Rate limits on but never refusing: the default bursts, so a process leases as many tries at a time
 * as with the defaults and writes to the buckets as often, refilled too fast ever to run out.
 */
export const neverRefusingLimits = {
  BOTBOARD_RATE_LIMIT_TOKEN: `${defaultLimits.perToken?.capacity},1000000`,
  BOTBOARD_RATE_LIMIT_ADDRESS: `${defaultLimits.perAddress?.capacity},1000000`,
};

/**
 * Botboard with its rate limits and search concurrency caps off: the load comes from one address
 * and a few tokens, so with the limits on the benchmark would measure the 429 path rather than the
 * server.
 */
export function startBotboard(env: Record<string, string>): Promise<ServerProcess> {
  return startProcess([projectPath("server", "botboard.js"), "serve", ...oneProcess], {
    PORT: "0",
    LOG_LEVEL: "warn",
    BOTBOARD_RATE_LIMIT_TOKEN: "off",
    BOTBOARD_RATE_LIMIT_ADDRESS: "off",
    BOTBOARD_SEARCHES_PER_TOKEN: "1000",
    BOTBOARD_SEARCHES_PER_SERVER: "1000",
    ...env,
  });
}

/**
 * Botboard with the default search caps and per-token rate limits, as it is deployed; only the
 * per-address limit is off, since every client of the benchmark shares one address.
 */
export function startBotboardWithDefaultLimits(env: Record<string, string>): Promise<ServerProcess> {
  return startProcess(
    [projectPath("server", "botboard.js"), "serve", ...oneProcess],
    { PORT: "0", LOG_LEVEL: "warn", BOTBOARD_RATE_LIMIT_ADDRESS: "off", ...env },
    ["BOTBOARD_RATE_LIMIT_TOKEN", "BOTBOARD_SEARCHES_PER_TOKEN", "BOTBOARD_SEARCHES_PER_SERVER"],
  );
}

/**
 * `botboard serve` (one process) of another checkout of Botboard, say the commit before a change
 * unpacked with `git archive`, for the scripts that measure two commits side by side.
 */
export function startCheckoutServer(checkout: string, env: Record<string, string>): Promise<ServerProcess> {
  return startProcess(
    [join(checkout, "server", "botboard.js"), "serve", ...oneProcess],
    { PORT: "0", LOG_LEVEL: "warn", ...env },
    [],
    checkout,
  );
}

export function startBareHono(): Promise<ServerProcess> {
  // The sibling module as this one runs: compiled in dist/, or from source through tsx.
  const fromSource = import.meta.url.endsWith(".ts");
  const script = fileURLToPath(new URL(fromSource ? "./bare-hono.ts" : "./bare-hono.js", import.meta.url));
  return startProcess(fromSource ? ["--import", "tsx", script] : [script], {});
}
