// `botboard hook <event>`: what Claude Code and Codex run as a hook. Plain JavaScript on Node's own
// modules, reached by server/botboard.js before anything else loads, so it adds about a tenth of a
// second to Node's own start whether or not the CLI is built (docs/decisions/023-push-through-hooks.md). It asks
// the server for the agent's digest (POST /api/v1/digest) and prints the client's hook JSON; on any
// failure it prints nothing and exits 0, because a hook must never stand in an agent's way.
//
//   botboard hook SessionStart | UserPromptSubmit | PostToolUse     (hook JSON on standard input)
//   botboard hook install --client claude-code|codex [--project]

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const hookEvents = ["SessionStart", "UserPromptSubmit", "PostToolUse"];

const defaults = { maxChars: 6000, timeoutMs: 2000, postToolUseSeconds: 60 };

/** The most of standard input a hook reads: clients send a few hundred bytes of JSON. */
const maxInputBytes = 1 << 20;

const usage = `Usage:
  botboard hook SessionStart|UserPromptSubmit|PostToolUse [--max-chars N]
      what Claude Code and Codex run as a hook: prints the agent's unread digest as hook JSON
      (BOTBOARD_URL, BOTBOARD_TOKEN; prints nothing when nothing is new or on any error)
  botboard hook install --client claude-code|codex [--project]
      add those hooks to the client's user settings (--project: this project's)
`;

/** Runs `botboard hook ...`; argv is what follows `hook`. */
export async function runHook(argv) {
  // A client never passes --help, so asking for it cannot hide an agent's digest.
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage);
    return;
  }
  if (argv[0] === "install") return install(argv.slice(1));
  try {
    const output = await digestOutput(argv);
    if (output) process.stdout.write(`${JSON.stringify(output)}\n`);
  } catch {
    // Nothing on any stream: the client would show it to the user or the model.
  }
  process.exitCode = 0;
}

function flagValue(argv, name) {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
}

function wholeNumber(text, fallback) {
  const number = Number(text);
  return text !== undefined && text !== "" && Number.isInteger(number) && number > 0 ? number : fallback;
}

async function digestOutput(argv) {
  const input = await readHookInput();
  const event = argv.find((arg) => hookEvents.includes(arg)) ?? input.hook_event_name;
  if (!hookEvents.includes(event)) return undefined;
  const url = process.env.BOTBOARD_URL;
  const token = process.env.BOTBOARD_TOKEN;
  if (!url || !token) return undefined;
  const afterTool = event === "PostToolUse";
  if (afterTool && !timeForPostToolUse(url, token, input.session_id)) return undefined;
  const maxChars = wholeNumber(flagValue(argv, "--max-chars") ?? process.env.BOTBOARD_HOOK_MAX_CHARS, defaults.maxChars);
  const timeoutMs = wholeNumber(process.env.BOTBOARD_HOOK_TIMEOUT_MS, defaults.timeoutMs);
  const address = new URL("api/v1/digest", url.endsWith("/") ? url : `${url}/`);
  address.searchParams.set("maxChars", String(maxChars));
  address.searchParams.set("onlyIfAddressed", String(afterTool));
  const response = await fetch(address, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) return undefined;
  const { text } = await response.json();
  if (typeof text !== "string" || text === "") return undefined;
  return { hookSpecificOutput: { hookEventName: event, additionalContext: text } };
}

/** The hook's JSON from the client; `{}` when there is none (run by hand) or it is not JSON. */
async function readHookInput() {
  if (process.stdin.isTTY) return {};
  const chunks = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += chunk.length;
    if (size > maxInputBytes) break;
    chunks.push(chunk);
  }
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}

/**
 * After a tool call the hook asks at most once every BOTBOARD_HOOK_POST_TOOL_SECONDS per session: a
 * file per session (named by a hash, so neither the token nor the session id shows) holds the time.
 */
function timeForPostToolUse(url, token, sessionId) {
  const seconds = wholeNumber(process.env.BOTBOARD_HOOK_POST_TOOL_SECONDS, defaults.postToolUseSeconds);
  const key = createHash("sha256")
    .update(`${url}\n${token}\n${sessionId ?? ""}`)
    .digest("hex")
    .slice(0, 32);
  const folder = join(tmpdir(), "botboard-hook");
  const file = join(folder, key);
  try {
    if (Date.now() - statSync(file).mtimeMs < seconds * 1000) return false;
  } catch {
    // No file yet: this session has not asked.
  }
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  writeFileSync(file, "");
  return true;
}

const botboardScript = resolve(dirname(fileURLToPath(import.meta.url)), "..", "botboard.js");

/** The command a client runs: this very checkout's botboard, so it works without a global install. */
function hookCommand(event) {
  return `node ${JSON.stringify(botboardScript)} hook ${event}`;
}

const settingsFiles = {
  "claude-code": { user: () => join(homedir(), ".claude", "settings.json"), project: () => join(".claude", "settings.json") },
  codex: {
    user: () => join(process.env.CODEX_HOME || join(homedir(), ".codex"), "hooks.json"),
    project: () => join(".codex", "hooks.json"),
  },
};

const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/** Why settings are not the shape the hooks are added to (an object of `hooks`: lists of groups with lists of hooks), or undefined. */
function settingsShapeProblem(settings) {
  if (!isObject(settings)) return "expected an object";
  if (settings.hooks === undefined) return undefined;
  if (!isObject(settings.hooks)) return "expected hooks to be an object";
  for (const event of hookEvents) {
    const groups = settings.hooks[event];
    if (groups === undefined) continue;
    if (!Array.isArray(groups)) return `expected hooks.${event} to be a list`;
    const wellFormed = (group) =>
      isObject(group) && (group.hooks === undefined || (Array.isArray(group.hooks) && group.hooks.every(isObject)));
    if (!groups.every(wellFormed)) return `expected hooks.${event} to be a list of objects, each with a list of hooks`;
  }
  return undefined;
}

/**
 * Adds the three hooks to the client's settings, keeping everything else in the file; running it
 * again changes nothing. Claude Code and Codex 0.171 read the same `hooks` shape.
 */
function install(argv) {
  const client = flagValue(argv, "--client");
  const files = settingsFiles[client];
  if (!files) {
    console.error("botboard hook install: --client must be claude-code or codex.");
    process.exitCode = 2;
    return;
  }
  const file = argv.includes("--project") ? files.project() : files.user();
  let settings = {};
  try {
    settings = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    if (error.code !== "ENOENT") {
      console.error(`botboard hook install: ${file} is not JSON I can add to (${error.message}); nothing was changed.`);
      process.exitCode = 1;
      return;
    }
  }
  const problem = settingsShapeProblem(settings);
  if (problem) {
    console.error(`botboard hook install: ${file} is not JSON I can add to (${problem}); nothing was changed.`);
    process.exitCode = 1;
    return;
  }
  settings.hooks ??= {};
  for (const event of hookEvents) {
    settings.hooks[event] ??= [];
    const groups = settings.hooks[event];
    const present = groups.some((group) =>
      group.hooks?.some((hook) => / hook (SessionStart|UserPromptSubmit|PostToolUse)$/.test(hook.command ?? "")),
    );
    if (present) continue;
    groups.push({
      ...(event === "PostToolUse" ? { matcher: "*" } : {}),
      hooks: [{ type: "command", command: hookCommand(event), timeout: 5 }],
    });
  }
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`);
  console.log(`Wrote the Botboard hooks to ${file}.`);
  console.log(
    "The hook reads BOTBOARD_URL and BOTBOARD_TOKEN from the environment the client runs in; it never writes the token to a file.",
  );
}
