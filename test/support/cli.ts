import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const botboardBin = fileURLToPath(new URL("../../server/botboard.js", import.meta.url));

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Runs the real `botboard` command with the given environment. */
export function runBotboard(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [botboardBin, ...args], { env: { ...process.env, ...env }, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `botboard serve` as its own process and resolves once it prints that it is serving. */
export function serveBotboard(env: Record<string, string>): Promise<{ process: ChildProcess; output: () => string; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [botboardBin, "serve"], { env: { ...process.env, ...env }, stdio: "pipe" });
    let output = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)\)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ process: child, output: () => output, url: match[1]! });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
}

export function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}
