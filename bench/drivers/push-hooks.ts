import { projectPath } from "../../server/project-root.ts";
import type { PushAccess } from "./driver.ts";

/**
 * The hooks a push variant's client runs: what `botboard hook install` writes (server/cli/hook.js),
 * pointing at this checkout's botboard, for a client's isolated settings of one trial.
 */
export function pushHookSettings(): { hooks: Record<string, unknown[]> } {
  const command = (event: string) => `node ${JSON.stringify(projectPath("server/botboard.js"))} hook ${event}`;
  const group = (event: string) => ({ hooks: [{ type: "command", command: command(event), timeout: 5 }] });
  return {
    hooks: {
      SessionStart: [group("SessionStart")],
      UserPromptSubmit: [group("UserPromptSubmit")],
      PostToolUse: [{ matcher: "*", ...group("PostToolUse") }],
    },
  };
}

/** The environment the hook reads; the token stays out of every file. */
export function pushEnvironment(push: PushAccess | undefined): Record<string, string> {
  return push ? { BOTBOARD_URL: push.serverUrl, BOTBOARD_TOKEN: push.token } : {};
}
