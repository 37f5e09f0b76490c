import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { serveBotboard, stop } from "./support/cli.ts";

const run = promisify(execFile);
const checkout = fileURLToPath(new URL("..", import.meta.url));
const version = (JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")) as { version: string }).version;

/** What the tarball may hold: the compiled code, the bin, its loader and the hook, the migrations, the web assets. */
const packaged = [
  /^package\.json$/,
  /^README\.md$/,
  /^dist\/built$/,
  /^dist\/(server|mcp|views|bench)\/.+\.js$/,
  /^server\/(botboard|compiled|cli\/hook)\.js$/,
  /^migrations\/\d{4}_\w+\.sql$/,
  /^migrations\/meta\/_journal\.json$/,
  /^views\/assets\/[\w.-]+$/,
];

type PackResult = { filename: string; size: number; files: { path: string }[] };

// One test: packing and installing from the registry take about a minute on a busy 2-core machine.
describe("the npm package", () => {
  it("installs from its tarball into an empty folder, serves on the embedded database and adds an agent", async () => {
    const folder = mkdtempSync(join(tmpdir(), "botboard-package-"));
    try {
      // npm runs the `prepare` build first, whose output comes before the JSON.
      const packed = await run("npm", ["pack", "--json", "--pack-destination", folder], { cwd: checkout, maxBuffer: 1 << 24 });
      const [pack] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[\n"))) as PackResult[];
      const outsideTheList = pack!.files.map((file) => file.path).filter((path) => !packaged.some((pattern) => pattern.test(path)));
      expect(outsideTheList).toEqual([]);
      expect(pack!.files.map((file) => file.path)).toContain("dist/server/commands.js");

      const app = join(folder, "app");
      mkdirSync(app);
      // Dependencies come from npm's cache when it has them (a checkout's `npm install` filled it), not
      // after asking the registry whether each of 185 packages changed: the package is what is tested.
      await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(folder, pack!.filename)], {
        cwd: app,
        maxBuffer: 1 << 24,
      });
      const installed = JSON.parse(readFileSync(join(app, "node_modules", "botboard", "package.json"), "utf8")) as {
        devDependencies: Record<string, string>;
      };
      // Development dependencies are not installed with the package: the command runs without them.
      for (const devOnly of Object.keys(installed.devDependencies)) {
        expect(() => readFileSync(join(app, "node_modules", devOnly, "package.json"))).toThrow();
      }

      const npx = (args: string[]) => run("npx", ["botboard", ...args], { cwd: app, env: { ...process.env, ...env } });
      const env = { BOTBOARD_DATA_DIR: join(app, "data"), PORT: "0" };
      expect((await npx(["--version"])).stdout.trim()).toBe(version);
      const server = await serveBotboard(env, { bin: join(app, "node_modules", ".bin", "botboard"), cwd: app, startTimeoutMs: 240_000 });
      try {
        const { token } = JSON.parse((await npx(["agent", "add", "alice", "--json"])).stdout) as { token: string };
        const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
        const written = await fetch(`${server.url}/api/v1/posts`, {
          method: "POST",
          headers,
          body: JSON.stringify({ content: "Installed from the tarball." }),
        });
        expect(written.status).toBe(201);
        const feed = (await (await fetch(`${server.url}/api/v1/posts`, { headers })).json()) as { posts: { content: string }[] };
        expect(feed.posts.map((post) => post.content)).toEqual(["Installed from the tarball."]);

        // The installed hook (plain JavaScript outside dist/) shows a teammate the post.
        const teammate = JSON.parse((await npx(["agent", "add", "bob", "--json"])).stdout) as { token: string };
        const hook = spawnSync("npx", ["botboard", "hook", "SessionStart"], {
          cwd: app,
          input: JSON.stringify({ hook_event_name: "SessionStart", session_id: "package-test" }),
          // More than the hook's default 2 s, which a loaded machine can outlast: this checks what it prints.
          env: { ...process.env, BOTBOARD_URL: server.url, BOTBOARD_TOKEN: teammate.token, BOTBOARD_HOOK_TIMEOUT_MS: "20000" },
          encoding: "utf8",
        });
        expect(hook.status).toBe(0);
        const context = (JSON.parse(hook.stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput;
        expect(context.additionalContext).toContain("Installed from the tarball.");

        const load = await npx(["load", "--quick"]).then(
          () => ({ code: 0, stderr: "" }),
          (error: { code: number; stderr: string }) => error,
        );
        expect(load.code).toBe(1);
        expect(load.stderr).toMatch(/autocannon, a development dependency, is not installed here/);
      } finally {
        await stop(server.process);
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 900_000);
});
