import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../server/domain/teams.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

type Delivered = { id: number; content: string; forYou?: string[] };

// A refused claim says "ask the holder in the claim's thread": the holder must hear the question.
describe.each(databaseKinds)("a reply in a claim's thread is addressed to its holder, on %s", { timeout: 60_000 }, (kind) => {
  let server: TestServer;
  let team: Team;
  let frankToken: string;
  let frank: Client;
  let gina: Client;
  let henry: Client;

  beforeAll(async () => {
    server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off" });
    team = await server.team("claim-threads");
    frankToken = await server.agent(team, "frank");
    frank = await connectMcp(server.url, frankToken);
    gina = await connectMcp(server.url, await server.agent(team, "gina"));
    henry = await connectMcp(server.url, await server.agent(team, "henry"));
    // Each reader's first read places it at the newest post; from then on it gets what is new.
    for (const client of [frank, gina, henry]) await callTool(client, "read_new");
  }, 60_000);
  afterAll(async () => {
    for (const client of [frank, gina, henry]) await client?.close();
    await server?.close();
  });

  /** frank claims; gina, refused, asks in the claim's thread as the refusal tells her to. */
  async function refusedAndAsked(folder: string): Promise<{ id: number; question: number }> {
    const made = await callTool(frank, "claim", { paths: [`${folder}/**`], reason: "restructuring" });
    const { id, thread } = (made.structuredContent as { claim: { id: number; thread: number } }).claim;
    const refused = await callTool(gina, "claim", { paths: [`${folder}/a.ts`], reason: "a fix" });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain(`thread #${thread}`);
    await callTool(henry, "create_post", { content: `unrelated news on ${folder}` });
    const asked = await callTool(gina, "create_post", { content: `Can I patch ${folder}/a.ts now?`, parent_post_id: thread });
    // Botboard's own note in the thread (frank's renewal) is no news addressed to frank.
    await callTool(frank, "renew", { claim_id: id, minutes: 45 });
    await server.settled();
    return { id, question: (asked.structuredContent as { post: { id: number } }).post.id };
  }

  it("login counts it, read_posts for_me lists it, read_new gives it first as FOR YOU (reply), once", async () => {
    const { id, question } = await refusedAndAsked("frankdir");

    const login = await callTool(frank, "login");
    expect(login.text).toContain("1 of them addressed to you");
    expect(login.structuredContent).toMatchObject({ addressed: 1 });

    const forMe = await callTool(frank, "read_posts", { for_me: true });
    expect((forMe.structuredContent as { posts: Delivered[] }).posts.map((post) => post.id)).toEqual([question]);
    const forMeRest = await (await server.as(frankToken, "/api/v1/posts?forMe=true")).json();
    expect(forMeRest.posts.map((post: { id: number }) => post.id)).toEqual([question]);

    const news = await callTool(frank, "read_new");
    const delivered = (news.structuredContent as { posts: Delivered[] }).posts;
    expect(delivered.map((post) => [post.id, post.forYou ?? []])[0]).toEqual([question, ["reply"]]);
    // The rest, Botboard's notes of frank's own claim and renewal among them, are not addressed to frank.
    expect(delivered.slice(1).map((post) => post.content)).toEqual([
      expect.stringMatching(/^frank claimed `frankdir\/\*\*`/),
      "unrelated news on frankdir",
      expect.stringMatching(new RegExp(`^frank renewed claim ${id} until`)),
    ]);
    expect(delivered.slice(1).flatMap((post) => post.forYou ?? [])).toEqual([]);
    expect(news.text).toContain(`FOR YOU (reply) · #${question} · gina (agent) · `);
    expect((await callTool(frank, "read_new")).structuredContent).toMatchObject({ posts: [] });

    // Nobody else is addressed by it: henry never wrote in the thread, gina wrote the question.
    const henrys = (await callTool(henry, "read_new")).structuredContent as { posts: Delivered[] };
    expect(henrys.posts.find((post) => post.id === question)?.forYou ?? []).toEqual([]);
    await callTool(frank, "release", { claim_id: id });
  });

  it("the hook's digest gives it first, marked FOR YOU", async () => {
    const { id, question } = await refusedAndAsked("hookdir");
    const digest = await (await server.as(frankToken, "/api/v1/digest", { method: "POST" })).text();
    expect(digest).toContain("(1 addressed to you, marked FOR YOU, first)");
    expect(digest).toContain(`FOR YOU (reply) · #${question} · gina (agent) · `);
    expect(digest.indexOf(`#${question}`)).toBeLessThan(digest.indexOf("unrelated news on hookdir"));
    await callTool(frank, "release", { claim_id: id });
  });
});
