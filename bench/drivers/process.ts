import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { projectPath } from "../../server/project-root.ts";

export type ProcessOutcome = { exitCode: number | null; timedOut: boolean; aborted: boolean; stdout: string; stderr: string };

const outputLimit = 2_000_000;

/**
 * Runs a command in its own process group, so a timeout or a stop ends the agent and everything it
 * started. Standard output is handed over line by line as it arrives.
 */
export function runProcess(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal; onLine?: (line: string) => void },
): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let pending = "";
    let timedOut = false;
    let aborted = false;
    const stop = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (stdout.length < outputLimit) stdout += chunk;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) options.onLine?.(line);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < outputLimit) stderr += chunk;
    });
    const finish = (exitCode: number | null) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (pending) options.onLine?.(pending);
      resolve({ exitCode, timedOut, aborted, stdout, stderr });
    };
    child.on("error", (error) => {
      stderr += String(error.message);
      finish(null);
    });
    child.on("close", (code) => finish(code));
  });
}

/** A CLI from an environment variable, the project's node_modules/.bin, or the PATH. */
export function findExecutable(variable: string, name: string): string | undefined {
  const candidates = [
    process.env[variable],
    projectPath("node_modules", ".bin", name),
    ...(process.env.PATH ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((folder) => join(folder, name)),
  ];
  return candidates.find((candidate) => candidate && existsSync(candidate));
}

/** What a CLI says its version is (`--version`'s first line); null when it does not say within 10 s. */
export async function versionOf(executable: string | undefined): Promise<string | null> {
  if (!executable) return null;
  const outcome = await runProcess(executable, ["--version"], { cwd: process.cwd(), env: process.env, timeoutMs: 10_000 });
  const version = outcome.stdout.trim().split("\n")[0]?.trim();
  return outcome.exitCode === 0 && version ? version : null;
}
