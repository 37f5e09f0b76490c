import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentTokens, sessions, users } from "../server/db/schema/index.ts";
import { hashSecret } from "../server/domain/tokens.ts";
import { validateSession } from "../server/domain/users.ts";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

describe.each(databaseKinds)("engineers' accounts and sessions on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  let cookie: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("accounts");
    cookie = await server.engineer(team, "grace");
  });
  afterAll(() => server?.close());

  const login = (body: unknown) =>
    fetch(`${server.url}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("a wrong password and an unknown user get the same answer", async () => {
    const wrong = await login({ username: "grace", password: "not the password" });
    const unknown = await login({ username: "nobody-here", password: "not the password" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
  });

  it("logging in sets an HttpOnly, SameSite=Lax session cookie whose token is stored only as its SHA-256", async () => {
    const response = await login({ username: "GRACE", password: "correct horse battery" });
    expect(response.status).toBe(200);
    const setCookie = response.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Secure/);
    const token = /botboard_session=([^;]+)/.exec(setCookie)![1]!;
    const stored = await server.database.db
      .select()
      .from(sessions)
      .where(eq(sessions.id, hashSecret(token)));
    expect(stored).toHaveLength(1);
    const anyWithToken = await server.database.db.select().from(sessions).where(eq(sessions.id, token));
    expect(anyWithToken).toHaveLength(0);
    const days = (stored[0]!.expiresAt.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
  });

  it("a session used in the second half of its life slides to 30 days again", async () => {
    const token = cookie.split("=")[1]!;
    await server.database.db
      .update(sessions)
      .set({ expiresAt: sql`now() + interval '10 days'` })
      .where(eq(sessions.id, hashSecret(token)));
    const validated = await validateSession(server.database.db, token);
    expect(validated?.renewed).toBe(true);
    expect((validated!.expiresAt.getTime() - Date.now()) / 86_400_000).toBeGreaterThan(29.9);
    expect(validated?.caller).toMatchObject({ kind: "human", username: "grace", role: "admin", teamId: team.id });
  });

  it("an expired session is refused and removed", async () => {
    const fresh = await login({ username: "grace", password: "correct horse battery" });
    const token = /botboard_session=([^;]+)/.exec(fresh.headers.get("set-cookie")!)![1]!;
    await server.database.db
      .update(sessions)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(sessions.id, hashSecret(token)));
    expect(await validateSession(server.database.db, token)).toBeUndefined();
    expect(
      await server.database.db
        .select()
        .from(sessions)
        .where(eq(sessions.id, hashSecret(token))),
    ).toHaveLength(0);
  });

  it("logging out invalidates the session on the server, not just the cookie", async () => {
    const fresh = await login({ username: "grace", password: "correct horse battery" });
    const sessionCookie = fresh.headers.get("set-cookie")!.split(";")[0]!;
    const token = sessionCookie.split("=")[1]!;
    expect(await validateSession(server.database.db, token)).toBeDefined();
    const out = await fetch(`${server.url}/auth/logout`, { method: "POST", headers: { cookie: sessionCookie } });
    expect(out.status).toBe(200);
    expect(await validateSession(server.database.db, token)).toBeUndefined();
  });

  it("passwords are stored as scrypt hashes and agent tokens as SHA-256 only", async () => {
    const [user] = await server.database.db.select().from(users).where(eq(users.username, "grace"));
    expect(user!.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(user!.passwordHash).not.toContain("correct horse");
    const token = await server.agent(team, "hashed");
    const rows = await server.database.db
      .select()
      .from(agentTokens)
      .where(eq(agentTokens.hash, hashSecret(token)));
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it("bad sign-in input is a 400 naming the field", async () => {
    const response = await login({ username: "grace" });
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toMatch(/password/);
    const short = await fetch(`${server.url}/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "whatever", username: "x1", password: "short" }),
    });
    expect(short.status).toBe(400);
    expect((await short.json()).error.message).toMatch(/at least 10 characters/);
  });
});

describe("behind https", () => {
  it("the session cookie is Secure when BOTBOARD_PUBLIC_URL is https", async () => {
    const server = await startTestServer("pglite", { BOTBOARD_PUBLIC_URL: "https://board.example.com" });
    try {
      const team = await server.team("secure");
      const cookie = await server.engineer(team, "linus").catch((error: Error) => error.message);
      expect(cookie).toMatch(/botboard_session=/);
      const response = await fetch(`${server.url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "linus", password: "correct horse battery" }),
      });
      expect(response.headers.get("set-cookie")).toMatch(/Secure/);
    } finally {
      await server.close();
    }
  });
});
