import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { projectRoot } from "../server/project-root.ts";

/**
 * A checkout whose dist/ is missing or older than its source runs from source through tsx, and must
 * serve its pages from any folder it is started in (a hook or an MCP client starts it from the
 * user's project, not from Botboard's): tsx then reads Botboard's tsconfig, not the folder's.
 */

const checkout = mkdtempSync(join(tmpdir(), "botboard-source-"));
const elsewhere = mkdtempSync(join(tmpdir(), "botboard-elsewhere-"));
afterAll(() => {
  rmSync(checkout, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

// Compiling every module through tsx takes 20-35 s on a quiet 2-core machine, and past a minute
// with other test files' servers and browsers beside it.
it("started from another folder with no build, serves its pages", async () => {
  for (const entry of ["server", "mcp", "views", "bench", "migrations", "package.json", "tsconfig.json", "tsconfig.build.json"]) {
    cpSync(join(projectRoot, entry), join(checkout, entry), {
      recursive: true,
      filter: (path) => !path.includes(join("bench", "results")),
    });
  }
  symlinkSync(join(projectRoot, "node_modules"), join(checkout, "node_modules"));
  const server = spawn(process.execPath, [join(checkout, "server", "botboard.js"), "serve"], {
    cwd: elsewhere,
    env: { ...process.env, PORT: "0", BOTBOARD_DATA_DIR: join(elsewhere, "data"), DATABASE_URL: "", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk;
        const match = /listening on (http:\/\/[^\s)]+)/.exec(output);
        if (match) resolve(match[1]!);
      };
      server.stdout.on("data", onData);
      server.stderr.on("data", onData);
      server.once("exit", (code) => reject(new Error(`botboard serve exited with ${code}:\n${output}`)));
    });
    const page = await fetch(`${url}/login`);
    expect(page.status, await page.clone().text()).toBe(200);
    expect(await page.text()).toContain("<form");
  } finally {
    server.kill("SIGTERM");
  }
}, 150_000);
