import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agents, agentTokens, posts } from "../server/db/schema/index.ts";
import { agentInstructionsOf, getTeam, type Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf } from "./support/web.ts";

/** Form bodies as a hand-made request sends them, which no browser on our pages does. */
describe.each(databaseKinds)("form bodies on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  let cookie: string;
  let csrf: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("forms");
    cookie = await server.engineer(team, "fay");
    csrf = encodeURIComponent(await csrfTokenOf(server, cookie));
  });
  afterAll(() => server?.close());

  /** A urlencoded body exactly as written, from the server's own origin. */
  const send = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded", ...headers },
      body,
    });
  const asEngineer = () => ({ cookie });
  const asHtmx = () => ({ cookie, "x-csrf-token": decodeURIComponent(csrf), "hx-request": "true" });

  async function postsSaying(...contents: string[]): Promise<unknown[]> {
    return server.database.db.select({ id: posts.id }).from(posts).where(inArray(posts.content, contents));
  }

  it("a field given twice is refused with a 400 naming it, at every form door, and nothing is saved", async () => {
    const refusals: [string, string, Record<string, string>, string][] = [
      ["/posts", `content=first+of+two&content=second+of+two&_csrf=${csrf}`, asEngineer(), "content is given twice; send it once."],
      ["/posts", "content=first+of+two&content=second+of+two&content=third", asHtmx(), "content is given 3 times; send it once."],
      ["/posts", `_csrf=${csrf}&content=first+of+two&_csrf=${csrf}`, asEngineer(), "_csrf is given twice"],
      [
        "/admin/instructions",
        `instructions=first+of+two&instructions=second+of+two&_csrf=${csrf}`,
        asEngineer(),
        "instructions is given twice",
      ],
      ["/login", "username=fay&username=someone&password=x", {}, "username is given twice"],
      ["/auth/login", "username=fay&password=x&password=y", {}, "password is given twice"],
      ["/oauth/token", "grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=c", {}, "refresh_token is given twice"],
    ];
    for (const [path, body, headers, message] of refusals) {
      const response = await send(path, body, headers);
      expect(response.status, body).toBe(400);
      expect(await response.text(), body).toContain(message);
    }
    expect(await postsSaying("first of two", "second of two", "third")).toEqual([]);
    expect(agentInstructionsOf(await getTeam(server.database.db, team.id))).not.toContain("of two");
  });

  it("the checkbox group of a new agent's scopes still sends both, and the agent gets both", async () => {
    const created = await send("/admin/agents", `name=both-scopes&scopes=read&scopes=write&_csrf=${csrf}`, asEngineer());
    expect(created.status).toBe(303);
    const [token] = await server.database.db
      .select({ scopes: agentTokens.scopes })
      .from(agentTokens)
      .innerJoin(agents, eq(agents.id, agentTokens.agentId))
      .where(eq(agents.name, "both-scopes"));
    expect(token?.scopes).toEqual(["read", "write"]);
    const twoNames = await send("/admin/agents", `name=one&name=two&scopes=read&_csrf=${csrf}`, asEngineer());
    expect(twoNames.status).toBe(400);
    expect(await twoNames.text()).toContain("name is given twice");
  });

  it("a broken percent-escape is refused with a 400 naming its field, at every form door, and nothing is saved", async () => {
    const refusals: [string, string, Record<string, string>, string][] = [
      ["/posts", `content=not+hex+%ZZ&_csrf=${csrf}`, asEngineer(), "content"],
      ["/posts", `content=cut+short+%E0%A4%A&_csrf=${csrf}`, asEngineer(), "content"],
      ["/posts", "content=a+stray+100%", asHtmx(), "content"],
      ["/posts", `content=fine&tags=%G1&_csrf=${csrf}`, asEngineer(), "tags"],
      ["/posts", `cont%ZZent=named+wrong&content=fine&_csrf=${csrf}`, asEngineer(), "a field name"],
      ["/login", "username=%ZZ&password=x", {}, "username"],
      ["/auth/login", "username=fay&password=%E0%A4%A", {}, "password"],
      ["/oauth/token", "grant_type=refresh_token&refresh_token=%ZZ&client_id=c", {}, "refresh_token"],
    ];
    for (const [path, body, headers, field] of refusals) {
      const response = await send(path, body, headers);
      expect(response.status, body).toBe(400);
      expect(await response.text(), body).toContain(`The form is not UTF-8 text: ${field} has a percent-escape that is not UTF-8`);
    }
    const saved = await server.database.db.select({ content: posts.content }).from(posts).where(eq(posts.teamId, team.id));
    expect(saved).toEqual([]);
    // A browser's own escapes: % as %25, a space as +, a character as its UTF-8 bytes.
    expect((await send("/posts", `content=100%25+sure+%E0%A4%95&_csrf=${csrf}`, asEngineer())).status).toBe(303);
    expect(await postsSaying("100% sure \u0915")).toHaveLength(1);
  });
});
