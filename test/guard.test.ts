import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { botboardBin, closedPort, runProcess } from "./support/cli.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

// Each commit runs the real hook, which starts the botboard command: seconds apiece on a loaded machine.
describe.each(databaseKinds)("the git guard on %s", { timeout: 180_000 }, (kind) => {
  let server: TestServer;
  let team: Team;
  let alice: string;
  let bob: string;
  let repo: string;

  const git = (args: string[], env: Record<string, string> = {}) => runProcess("git", args, { cwd: repo, env });
  const botboard = (args: string[]) => runProcess(process.execPath, [botboardBin, ...args], { cwd: repo });
  const asBob = () => ({ BOTBOARD_URL: server.url, BOTBOARD_TOKEN: bob, BOTBOARD_GUARD: "" });
  const commitCount = () => Number(execFileSync("git", ["rev-list", "--count", "HEAD"], { cwd: repo, encoding: "utf8" }).trim());
  const stage = async (path: string, text: string) => {
    mkdirSync(join(repo, path, ".."), { recursive: true });
    writeFileSync(join(repo, path), text);
    expect((await git(["add", path])).code).toBe(0);
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off" });
    team = await server.team("guard");
    alice = await server.agent(team, "alice");
    bob = await server.agent(team, "bob");
    repo = mkdtempSync(join(tmpdir(), "botboard-guard-"));
    await git(["init", "-q", "-b", "main"]);
    await git(["config", "user.email", "bob@example.com"]);
    await git(["config", "user.name", "bob"]);
    await stage("README.md", "hello\n");
    expect((await git(["commit", "-q", "-m", "first"])).code).toBe(0);
    const installed = await botboard(["guard", "install", "--pre-push"]);
    expect(installed.code, installed.stderr).toBe(0);
    const claimed = await server.as(alice, "/api/v1/claims", {
      method: "POST",
      body: JSON.stringify({ paths: ["src/auth/**"], reason: "rewriting the login flow", minutes: 45 }),
    });
    expect(claimed.status).toBe(201);
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it("install writes executable pre-commit and pre-push hooks that call botboard guard check", () => {
    for (const hook of ["pre-commit", "pre-push"]) {
      const path = join(repo, ".git", "hooks", hook);
      expect(statSync(path).mode & 0o111).not.toBe(0);
      expect(readFileSync(path, "utf8")).toContain("guard check");
    }
  });

  it("a commit touching another agent's claimed file stops, naming holder, reason and expiry", async () => {
    const before = commitCount();
    await stage("src/auth/login.ts", "export {};\n");
    await stage("docs/notes.md", "notes\n");
    const commit = await git(["commit", "-m", "touch login"], asBob());
    expect(commit.code).not.toBe(0);
    expect(commit.stderr).toContain("commit stopped");
    expect(commit.stderr).toMatch(/src\/auth\/login\.ts: claimed by alice until \d{4}-\d\d-\d\dT/);
    expect(commit.stderr).toContain('"rewriting the login flow"');
    expect(commit.stderr).not.toContain("docs/notes.md");
    expect(commitCount()).toBe(before);
  });

  it("BOTBOARD_GUARD=warn warns and commits", async () => {
    const before = commitCount();
    const commit = await git(["commit", "-q", "-m", "touch login anyway"], { ...asBob(), BOTBOARD_GUARD: "warn" });
    expect(commit.code, commit.stderr).toBe(0);
    expect(commit.stderr).toContain("claimed by alice");
    expect(commitCount()).toBe(before + 1);
  });

  it("a server that cannot be reached warns and never blocks", async () => {
    const before = commitCount();
    await stage("src/auth/session.ts", "export {};\n");
    const commit = await git(["commit", "-q", "-m", "offline"], { ...asBob(), BOTBOARD_URL: `http://127.0.0.1:${await closedPort()}` });
    expect(commit.code, commit.stderr).toBe(0);
    expect(commit.stderr).toContain("cannot reach the Botboard server at http://127.0.0.1:");
    expect(commitCount()).toBe(before + 1);
  });

  it("the holder's own commit and unclaimed files pass silently", async () => {
    await stage("src/auth/token.ts", "export {};\n");
    const own = await git(["commit", "-q", "-m", "alice's own"], { ...asBob(), BOTBOARD_TOKEN: alice });
    expect(own.code, own.stderr).toBe(0);
    expect(own.stderr).toBe("");
    await stage("src/billing/invoice.ts", "export {};\n");
    const free = await git(["commit", "-q", "-m", "billing"], asBob());
    expect(free.code, free.stderr).toBe(0);
    expect(free.stderr).toBe("");
  });

  it("a hook whose botboard is gone runs the repository's node_modules/.bin/botboard, and warns only when there is none", async () => {
    const hookPath = join(repo, ".git", "hooks", "pre-commit");
    const installed = readFileSync(hookPath, "utf8");
    const localBin = join(repo, "node_modules", ".bin");
    try {
      // As when npm clears npx's cache, where the botboard that installed the hook lived.
      writeFileSync(hookPath, installed.replaceAll(botboardBin, join(repo, "gone", "botboard.js")));
      mkdirSync(localBin, { recursive: true });
      writeFileSync(join(localBin, "botboard"), `#!/bin/sh\nexec '${process.execPath}' '${botboardBin}' "$@"\n`, { mode: 0o755 });
      const before = commitCount();
      await stage("src/auth/login.ts", "export const again = 1;\n");
      const stopped = await git(["commit", "-q", "-m", "touch login again"], asBob());
      expect(stopped.code).not.toBe(0);
      expect(stopped.stderr).toContain("src/auth/login.ts: claimed by alice");
      rmSync(join(repo, "node_modules"), { recursive: true });
      // A PATH with node and git but no botboard.
      const path = [dirname(process.execPath), "/usr/bin", "/bin"].join(":");
      const unguarded = await git(["commit", "-q", "-m", "touch login unguarded"], { ...asBob(), PATH: path });
      expect(unguarded.code, unguarded.stderr).toBe(0);
      expect(unguarded.stderr).toContain("and no botboard in node_modules/.bin or on PATH; not checked.");
      expect(commitCount()).toBe(before + 1);
    } finally {
      writeFileSync(hookPath, installed);
      rmSync(join(repo, "node_modules"), { recursive: true, force: true });
    }
  });

  it("paths given to guard check are read from the current folder, as git reads them; a path outside the repository is refused", async () => {
    const fromSrc = (path: string) =>
      runProcess(process.execPath, [botboardBin, "guard", "check", path], { cwd: join(repo, "src"), env: asBob() });
    const claimed = await fromSrc("auth/login.ts");
    expect(claimed.code).toBe(1);
    expect(claimed.stderr).toContain("src/auth/login.ts: claimed by alice");
    for (const outside of ["/etc/passwd", "../../x"]) {
      const refused = await fromSrc(outside);
      expect(refused.code, outside).toBe(1);
      expect(refused.stderr.trim(), outside).toMatch(
        new RegExp(`^botboard: ${outside.replaceAll(".", "\\.")} is outside the repository \\S+$`),
      );
    }
  });

  it("without a token the hook warns in one sentence", async () => {
    const check = await runProcess(process.execPath, [botboardBin, "guard", "check", "src/auth/login.ts"], {
      cwd: repo,
      env: { ...asBob(), BOTBOARD_TOKEN: "" },
    });
    expect(check.code).toBe(0);
    expect(check.stderr.trim()).toBe(
      "botboard guard: Give the agent token with --token or BOTBOARD_TOKEN; change not checked against claims.",
    );
  });

  it("pre-push stops a push whose commits touch a claimed file", async () => {
    const remote = mkdtempSync(join(tmpdir(), "botboard-guard-remote-"));
    try {
      execFileSync("git", ["init", "-q", "--bare", remote]);
      expect((await git(["remote", "add", "origin", remote])).code).toBe(0);
      const push = await git(["push", "-q", "origin", "main"], asBob());
      expect(push.code).not.toBe(0);
      expect(push.stderr).toContain("push stopped");
      expect(push.stderr).toContain("src/auth/login.ts: claimed by alice");
      const warned = await git(["push", "-q", "origin", "main"], { ...asBob(), BOTBOARD_GUARD: "warn" });
      expect(warned.code, warned.stderr).toBe(0);
    } finally {
      rmSync(remote, { recursive: true, force: true });
    }
  });
});

describe("the git guard outside a repository", () => {
  it("install and check say so in one line and exit non-zero, without git's usage or a stack trace", async () => {
    const folder = mkdtempSync(join(tmpdir(), "botboard-not-a-repo-"));
    try {
      for (const args of [["install"], ["check", "--staged"], ["check", "a.ts"]]) {
        const result = await runProcess(process.execPath, [botboardBin, "guard", ...args], {
          cwd: folder,
          env: { BOTBOARD_TOKEN: "x", GIT_CEILING_DIRECTORIES: tmpdir() },
        });
        expect(result.code, args.join(" ")).toBe(78);
        expect(result.stderr.trim(), args.join(" ")).toBe("botboard: not a git repository (run it inside one)");
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
