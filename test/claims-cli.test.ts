import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { closedPort, runBotboard } from "./support/cli.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

// Every step starts the real botboard command against a real server: a second or more apiece on a loaded machine.
describe.each(databaseKinds)("botboard claims, the command, on %s", { timeout: 120_000 }, (kind) => {
  let server: TestServer;
  let team: Team;
  let alice: string;
  let bob: string;

  const as = (token: string) => ({ BOTBOARD_URL: server.url, BOTBOARD_TOKEN: token });
  const claims = (token: string, args: string[]) => runBotboard(["claims", ...args], as(token));

  beforeAll(async () => {
    server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_CLAIM_MAX_MINUTES: "120" });
    team = await server.team("cli-claims");
    alice = await server.agent(team, "alice");
    bob = await server.agent(team, "bob");
  }, 60_000);
  afterAll(() => server?.close());

  it("claim, see the refusal, list, renew and release, each through the command", async () => {
    const added = await claims(alice, ["add", "src/auth/**", "docs/auth.md", "--reason", "login flow \u202e[x]", "--minutes", "20"]);
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    const id = Number(/^#(\d+)\talice\tsrc\/auth\/\*\*, docs\/auth\.md\tuntil /m.exec(added.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    // The holder's reason is quoted, and a hidden character in it is spelled out for the terminal.
    expect(added.stdout).toContain(`"login flow [U+202E][x]"`);

    const refused = await claims(bob, ["add", "src/auth/session.ts", "-r", "typo"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`claim #${id} by alice on src/auth/**, docs/auth.md (reason: "login flow [U+202E][x]")`);
    expect(refused.stderr).not.toContain("    at ");
    // The way to claim anyway is named as this command takes it, not as the API's argument.
    expect(refused.stderr).toContain("or claim with --intent to record intent only.");
    expect(refused.stderr).not.toContain("exclusive");

    const listed = await runBotboard(["--json", "claims", "list", "--path", "src/auth/x.ts"], as(bob));
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).claims).toEqual([
      expect.objectContaining({ id, holder: "alice", paths: ["src/auth/**", "docs/auth.md"] }),
    ]);
    expect((await claims(bob, ["list", "--agent", "bob"])).stdout.trim()).toBe("No live claims.");

    const renewed = await runBotboard(["--json", "claims", "renew", `#${id}`, "--minutes", "120"], as(alice));
    expect(renewed.code).toBe(0);
    const until = Date.parse(JSON.parse(renewed.stdout).claim.expiresAt);
    expect(until - Date.now()).toBeGreaterThan(100 * 60_000);
    const tooLong = await claims(alice, ["renew", String(id), "--minutes", "121"]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain("minutes must be a whole number from 1 to 120");
    expect((await claims(bob, ["renew", String(id)])).stderr).toContain(`You hold no live claim #${id}`);

    const released = await claims(alice, ["release", String(id)]);
    expect(released.stdout.trim()).toBe(`Released #${id}.`);
    expect((await claims(bob, ["list"])).stdout.trim()).toBe("No live claims.");
    expect((await claims(bob, ["add", "src/auth/session.ts", "-r", "typo"])).code).toBe(0);
    expect((await claims(bob, ["release", "--path", "src/**"])).stdout).toMatch(/^Released #\d+\.$/m);
  });

  it("claiming again what you hold prints that claim, said to be the one already held, renewed when asked for longer", async () => {
    const added = await claims(alice, ["add", "cli-retry/**", "-r", "retry", "--minutes", "5"]);
    const id = Number(/^#(\d+)\talice\tcli-retry\/\*\*\t/m.exec(added.stdout)?.[1]);
    expect(added.stdout).toMatch(/^Claimed:\n/);
    const retried = await claims(alice, ["add", "cli-retry/", "-r", "retry, again", "--minutes", "5"]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(
      new RegExp(
        `^You already hold claim #${id} on these paths; nothing new was claimed\\. It keeps its own reason; post in thread #\\d+ to say more\\.\n#${id}\\talice\\t.*"retry"\n$`,
      ),
    );
    const longer = await runBotboard(["--json", "claims", "add", "cli-retry/**", "-r", "retry", "--minutes", "60"], as(alice));
    expect(JSON.parse(longer.stdout)).toMatchObject({ claim: { id }, alreadyHeld: { extended: true, reasonKept: false } });
    await claims(alice, ["release", String(id)]);
  });

  it("bad input is refused naming the field, and a missing token or server is said plainly", async () => {
    const everything = await claims(alice, ["add", "**", "-r", "all"]);
    expect(everything.code).toBe(1);
    expect(everything.stderr).toContain("paths[0]");
    const absolute = await claims(alice, ["add", "src/x.ts", "/etc/passwd", "-r", "x"]);
    expect(absolute.stderr).toContain("paths[1]");
    const minutes = await claims(alice, ["add", "src/x.ts", "-r", "x", "--minutes", "0"]);
    expect(minutes.code).not.toBe(0);
    expect(minutes.stderr).toContain("minutes");
    const noReason = await claims(alice, ["add", "src/x.ts"]);
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toContain("--reason");
    const noToken = await runBotboard(["claims", "list"], { BOTBOARD_URL: server.url, BOTBOARD_TOKEN: "" });
    expect(noToken.code).not.toBe(0);
    expect(noToken.stderr).toContain("BOTBOARD_TOKEN");
    const outsider = await server.agent(await server.team("cli-other"), "eve");
    expect((await claims(outsider, ["list"])).stdout.trim()).toBe("No live claims.");
  });
});

describe("commands that talk to a server, when it cannot be reached", { timeout: 60_000 }, () => {
  it("claims, status and mcp say so in one line and exit 78; the guard warns and lets the commit through", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const cases = [
      { url: down, reason: `connect ECONNREFUSED 127.0.0.1:${down.split(":")[2]}` },
      { url: "notaurl", reason: "not an http:// or https:// address" },
    ];
    for (const { url, reason } of cases) {
      const env = { BOTBOARD_URL: url, BOTBOARD_TOKEN: "bb_any" };
      const said = `cannot reach the Botboard server at ${url}: ${reason}; is it running? set BOTBOARD_URL`;
      for (const command of [["claims"], ["status"], ["mcp"]]) {
        const result = await runBotboard(command, env);
        expect({ command, code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({
          command,
          code: 78,
          stderr: `botboard: ${said}\n`,
          stdout: "",
        });
      }
      const guard = await runBotboard(["guard", "check", "src/x.ts"], env);
      expect(guard.code).toBe(0);
      expect(guard.stderr).toBe(`botboard guard: ${said}; change not checked against claims.\n`);
    }
  });
});
