import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { runProcess } from "./process.ts";

/**
 * The workspace tools of the built-in agent loop: list, read and write files, and run a command with
 * a timeout. Paths stay inside the workspace; outputs are cut so one call cannot flood the context.
 */

export type FunctionTool = { type: "function"; function: { name: string; description: string; parameters: Record<string, unknown> } };

const outputLimit = 12_000;
const cut = (text: string) => (text.length > outputLimit ? `${text.slice(0, outputLimit)}\n… (cut at ${outputLimit} characters)` : text);

export const workspaceTools: FunctionTool[] = [
  {
    type: "function",
    function: {
      name: "list_files",
      description: "List the files under a folder of the workspace (default: the whole workspace).",
      parameters: { type: "object", properties: { path: { type: "string" } } },
    },
  },
  {
    type: "function",
    function: {
      name: "read_file",
      description: "Read a text file of the workspace.",
      parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
    },
  },
  {
    type: "function",
    function: {
      name: "write_file",
      description: "Create or replace a text file of the workspace with the given content.",
      parameters: { type: "object", properties: { path: { type: "string" }, content: { type: "string" } }, required: ["path", "content"] },
    },
  },
  {
    type: "function",
    function: {
      name: "run_command",
      description: "Run a shell command in the workspace and return its exit code and output. Default timeout 60 s, at most 300 s.",
      parameters: {
        type: "object",
        properties: { command: { type: "string" }, timeout_seconds: { type: "number" } },
        required: ["command"],
      },
    },
  },
];

export const workspaceToolNames = new Set(workspaceTools.map((tool) => tool.function.name));

function inside(workspace: string, path: unknown): string {
  const full = resolve(workspace, typeof path === "string" && path ? path : ".");
  if (full !== workspace && !full.startsWith(workspace + sep)) throw new Error(`${String(path)} is outside the workspace`);
  return full;
}

export async function callWorkspaceTool(
  workspace: string,
  name: string,
  args: Record<string, unknown>,
  signal: AbortSignal,
): Promise<string> {
  try {
    if (name === "list_files") {
      const folder = inside(workspace, args.path);
      const files = readdirSync(folder, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => relative(workspace, join(entry.parentPath, entry.name)));
      return files.sort().join("\n") || "(no files)";
    }
    if (name === "read_file") {
      const file = inside(workspace, args.path);
      if (statSync(file).size > 1_000_000) return "error: the file is over 1 MB";
      return cut(readFileSync(file, "utf8"));
    }
    if (name === "write_file") {
      const file = inside(workspace, args.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, String(args.content ?? ""));
      return `wrote ${relative(workspace, file)}`;
    }
    if (name === "run_command") {
      const seconds = Math.min(300, Math.max(1, Number(args.timeout_seconds) || 60));
      const outcome = await runProcess("/bin/sh", ["-c", String(args.command ?? "")], {
        cwd: workspace,
        env: { PATH: process.env.PATH ?? "", HOME: workspace, NO_COLOR: "1" },
        timeoutMs: seconds * 1000,
        signal,
      });
      const status = outcome.timedOut ? `timed out after ${seconds} s` : `exit code ${outcome.exitCode}`;
      return cut(`${status}\n${outcome.stdout}${outcome.stderr ? `\n[stderr]\n${outcome.stderr}` : ""}`);
    }
    return `error: no tool ${name}`;
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}
