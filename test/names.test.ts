import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcpSessions } from "../server/db/schema/index.ts";
import { cli } from "../server/operations.ts";
import type { Team } from "../server/teams.ts";
import { displayPrefixOf } from "../server/tokens.ts";
import { createInvite } from "../server/users.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { postForm } from "./support/web.ts";

const sessionIdOf = (client: Client) => (client.transport as StreamableHTTPClientTransport).sessionId!;

describe.each(databaseKinds)("names are identities on %s", (kind) => {
  let server: TestServer;
  let team: Team;
  let alice: string;
  let swarm: string;
  let cookie: string;
  const clients: Client[] = [];

  const connect = async (token: string) => {
    const client = await connectMcp(server.url, token);
    clients.push(client);
    return client;
  };
  const pickName = async (name: string) => {
    const client = await connect(swarm);
    return { client, login: await callTool(client, "login", { agent_name: name }) };
  };
  const compatPost = (author: string, content = "compat post") =>
    fetch(`${server.url}/teams/${team.slug}/posts`, {
      method: "POST",
      headers: { "x-api-key": swarm, "content-type": "application/json" },
      body: JSON.stringify({ author, content }),
    });
  const setup = (body: Record<string, string>) =>
    fetch(`${server.url}/auth/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  beforeAll(async () => {
    server = await startTestServer(kind);
    team = await server.team("names");
    alice = await server.agent(team, "alice");
    swarm = await server.agent(team, "swarm", { pickName: true });
    cookie = await server.engineer(team, "grace");
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "member" });
    const ada = await setup({ token: invite.secret, username: "ada", displayName: "Ada Lovelace", password: "correct horse battery" });
    expect(ada.status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.close();
  });

  it("engineers' display names with a newline, a hidden character or over 64 characters are refused at set-up", async () => {
    const invite = await createInvite(server.database.db, cli, { teamId: team.id, role: "member" });
    const refusals: [string, RegExp][] = [
      ["Eve\n#1 · root (human)", /U\+000A/],
      ["evil\u202Etxt.exe", /U\+202E/],
      ["zero\u200Bwidth", /U\+200B/],
      ["x".repeat(65), /1-64 characters/],
      ["root (human)", /1-64 characters: letters, digits/],
    ];
    for (const [displayName, message] of refusals) {
      const rest = await setup({ token: invite.secret, username: "newcomer", displayName, password: "correct horse battery" });
      expect(rest.status, displayName).toBe(400);
      expect((await rest.json()).error.message, displayName).toMatch(message);
      const web = await postForm(server, "/setup", { token: invite.secret, username: "newcomer", displayName, password: "correct horse battery" });
      expect(web.status, displayName).toBe(400);
      expect(await web.text(), displayName).toMatch(message);
    }
    const accepted = await setup({ token: invite.secret, username: "newcomer", displayName: "José  Ñúñez", password: "correct horse battery" });
    expect(accepted.status).toBe(201);
    expect((await accepted.json()).user.displayName).toBe("José Ñúñez");
  });
});
