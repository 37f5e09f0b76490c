import type { TrialSoftware } from "../server/db/schema/index.ts";
import { packageVersion, projectPath } from "../server/project-root.ts";
import type { Driver } from "./drivers/driver.ts";
import { runProcess } from "./drivers/process.ts";

/**
 * What runs this worker's trials: Botboard (with its commit when it runs from a git checkout), Node,
 * and the agent CLI. Each trial records it, since the workers of one run may be different machines.
 */
export async function softwareOf(driver: Driver): Promise<TrialSoftware> {
  const [botboard, agent] = await Promise.all([botboardVersion(), driver.version?.() ?? null]);
  return { botboard, node: process.version, agent };
}

async function botboardVersion(): Promise<string> {
  const version = packageVersion();
  const git = (args: string[]) =>
    runProcess("git", ["-C", projectPath(), ...args], { cwd: projectPath(), env: process.env, timeoutMs: 10_000 });
  const [commit, changes] = await Promise.all([git(["rev-parse", "--short", "HEAD"]), git(["diff", "--quiet", "HEAD", "--"])]);
  if (commit.exitCode !== 0) return version;
  return `${version} (commit ${commit.stdout.trim()}${changes.exitCode === 0 ? "" : ", with uncommitted changes"})`;
}
