import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { Command } from "commander";
import { ConfigError } from "../config-error.ts";
import { shownClaimPaths } from "../domain/claim-paths.ts";
import { invalid } from "../domain/errors.ts";
import { addressOf, callApi, type ClaimJson, ServerRefused, serverOptions } from "./claims.ts";

/**
 * The git guard: a plain hook (no daemon, so it works inside Claude Code's and Codex's sandboxes)
 * that asks the server whether a commit touches files another agent has claimed. A claimed file
 * stops the commit; BOTBOARD_GUARD=warn only warns; anything that keeps the question from being
 * answered (server down, no token) warns and lets the commit through.
 */

const hookMarker = "# botboard guard";
const hookKinds = { "pre-commit": "--staged", "pre-push": "--pushed" } as const;

/** Runs git; no git, or no repository here, is a one-line refusal rather than git's failure and a stack trace. */
function git(args: string[], input?: string): string {
  try {
    return execFileSync("git", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
  } catch (error) {
    const { code, stderr } = error as NodeJS.ErrnoException & { stderr?: string };
    if (code === "ENOENT") throw new ConfigError("git is not installed (the guard needs it)");
    if (/not a git repository|must be run in a work tree/.test(stderr ?? ""))
      throw new ConfigError("not a git repository (run it inside one)");
    throw error;
  }
}

/**
 * The top folder of the repository's work tree. Asked before `git diff --cached`, which outside a
 * repository does not say so but prints its usage.
 */
const repositoryRoot = () => git(["rev-parse", "--show-toplevel"]).trim();

/** Paths given on the command line, as git reads them: from the current folder, then relative to the repository's top. */
function repositoryPaths(paths: string[], root: string): string[] {
  return paths.map((path) => {
    const fromRoot = relative(root, resolve(path));
    if (fromRoot === ".." || fromRoot.startsWith(`..${sep}`) || isAbsolute(fromRoot)) {
      throw invalid(`${path} is outside the repository ${root}`);
    }
    return fromRoot.split(sep).join("/");
  });
}

/**
 * The hook runs the botboard that installed it; when that file is gone (npx's cache, where
 * `npx botboard` runs from, is cleared by npm at will), the project's own `node_modules/.bin/botboard`
 * or one on PATH takes its place, so the guard does not quietly stop guarding.
 */
function hookScript(kind: keyof typeof hookKinds, botboardScript: string): string {
  const quoted = `'${botboardScript.replaceAll("'", "'\\''")}'`;
  const checkArguments = `guard check ${hookKinds[kind]}`;
  return `#!/bin/sh
${hookMarker} (${kind}), written by \`botboard guard install\`.
# Stops a ${kind === "pre-commit" ? "commit" : "push"} that touches files another agent has claimed on Botboard.
# BOTBOARD_GUARD=warn only warns, BOTBOARD_GUARD=off skips the check; a server that cannot be reached only warns.
[ "\${BOTBOARD_GUARD:-}" = off ] && exit 0
if [ -f ${quoted} ] && command -v node >/dev/null 2>&1; then
  exec node ${quoted} ${checkArguments}
fi
top=$(git rev-parse --show-toplevel 2>/dev/null)
if [ -n "$top" ] && [ -x "$top/node_modules/.bin/botboard" ]; then
  exec "$top/node_modules/.bin/botboard" ${checkArguments}
fi
if command -v botboard >/dev/null 2>&1; then
  exec botboard ${checkArguments}
fi
echo "botboard guard: cannot run ${botboardScript.replaceAll('"', "")}, and no botboard in node_modules/.bin or on PATH; not checked." >&2
exit 0
`;
}

/** npx runs a package it had to fetch from a cache folder of its own (`_npx`), which npm may clear. */
const runsFromNpxCache = (script: string) => script.split(sep).includes("_npx");

function installHook(kind: keyof typeof hookKinds, force: boolean): string {
  const hooksDir = resolve(git(["rev-parse", "--git-path", "hooks"]).trim());
  const hookPath = join(hooksDir, kind);
  if (existsSync(hookPath) && !readFileSync(hookPath, "utf8").includes(hookMarker) && !force) {
    throw new ConfigError(
      `${hookPath} exists and is not Botboard's; pass --force to replace it, or add to it: node ${process.argv[1]} guard check ${hookKinds[kind]}`,
    );
  }
  mkdirSync(hooksDir, { recursive: true });
  writeFileSync(hookPath, hookScript(kind, resolve(process.argv[1]!)));
  chmodSync(hookPath, 0o755);
  return hookPath;
}

const zeroSha = /^0+$/;

/** The files a push would publish: for each ref pushed (pre-push's standard input), what changed since the remote had it. */
function pushedPaths(refs: string): string[] {
  const paths = new Set<string>();
  for (const line of refs.split("\n").filter(Boolean)) {
    const [, localSha, , remoteSha] = line.split(" ");
    if (!localSha || zeroSha.test(localSha)) continue;
    const range = remoteSha && !zeroSha.test(remoteSha) ? [`${remoteSha}..${localSha}`] : [localSha, "--not", "--remotes"];
    for (const path of git(["log", "--format=", "--name-only", "--no-renames", ...range]).split("\n")) if (path) paths.add(path);
  }
  return [...paths];
}

async function readStandardInput(): Promise<string> {
  let text = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

const warn = (message: string) => console.error(`botboard guard: ${message}`);

async function check(paths: string[], options: { url?: string; token?: string }, what: string): Promise<void> {
  if (paths.length === 0) return;
  const warnOnly = process.env.BOTBOARD_GUARD === "warn";
  let conflicts: { path: string; claim: ClaimJson }[];
  try {
    ({ conflicts } = await callApi<{ conflicts: typeof conflicts }>(addressOf(options), "POST", "/claims/check", { paths }, 5000));
  } catch (error) {
    const why =
      error instanceof ServerRefused || error instanceof ConfigError
        ? error.message
        : `cannot reach Botboard (${(error as Error).message})`;
    // The reasons are sentences of their own; this one goes on after a semicolon.
    warn(`${why.replace(/\.$/, "")}; ${what} not checked against claims.`);
    return;
  }
  if (conflicts.length === 0) return;
  const lines = conflicts.map(
    ({ path, claim }) =>
      `  ${path}: claimed by ${claim.holder} until ${claim.expiresAt} (claim #${claim.id} on ${shownClaimPaths(claim.paths)}: ${JSON.stringify(claim.reason)})`,
  );
  const threads = [...new Set(conflicts.map(({ claim }) => claim.threadId).filter((id) => id !== null))];
  const ask = threads.length > 0 ? ` Ask in thread ${threads.map((id) => `#${id}`).join(", ")}, or wait for the claims to end.` : "";
  if (warnOnly) {
    warn(`files claimed by other agents (BOTBOARD_GUARD=warn, so the ${what} goes ahead):\n${lines.join("\n")}`);
    return;
  }
  warn(
    `${what} stopped: files claimed by other agents:\n${lines.join("\n")}\n${ask.trim()} To go ahead anyway: BOTBOARD_GUARD=warn git ${what === "push" ? "push" : "commit"} ...`,
  );
  process.exitCode = 1;
}

export function guardCommand(): Command {
  const guard = new Command("guard").description("a git hook that stops commits touching files other agents have claimed");

  guard
    .command("install")
    .description("write .git/hooks/pre-commit (and with --pre-push, pre-push) into the current repository")
    .option("--pre-push", "also check pushes")
    .option("--force", "replace existing hooks that are not Botboard's")
    .action((options: { prePush?: boolean; force?: boolean }) => {
      const kinds = options.prePush ? (["pre-commit", "pre-push"] as const) : (["pre-commit"] as const);
      for (const kind of kinds) console.log(`Installed ${installHook(kind, Boolean(options.force))}`);
      console.log("Commits ask Botboard (BOTBOARD_URL, BOTBOARD_TOKEN) whether a staged file is claimed by another agent.");
      if (runsFromNpxCache(process.argv[1]!))
        console.log(
          "This botboard runs from npx's cache, which npm may clear; the hook then looks for node_modules/.bin/botboard, then botboard on PATH: install the package globally (`npm install -g botboard-0.1.0.tgz`) to keep it guarding.",
        );
    });

  serverOptions(guard.command("check [paths...]"))
    .description("exit 1 when a file is claimed by another agent (the hook runs this)")
    .option("--staged", "check the files staged for commit")
    .option("--pushed", "check the files of the refs on standard input (as pre-push gets them)")
    .action(async (paths: string[], options: { url?: string; token?: string; staged?: boolean; pushed?: boolean }) => {
      const root = repositoryRoot();
      if (options.staged) {
        const staged = git(["diff", "--cached", "--name-only", "--no-renames", "-z"]).split("\0").filter(Boolean);
        await check(staged, options, "commit");
      } else if (options.pushed) {
        await check(pushedPaths(await readStandardInput()), options, "push");
      } else {
        await check(repositoryPaths(paths, root), options, "change");
      }
    });

  return guard;
}
