import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeAgentTokens } from "../server/domain/agents.ts";
import { cli } from "../server/domain/callers.ts";
import { findOAuthClient, maxClientMetadataBytes } from "../server/domain/oauth-clients.ts";
import { displayPrefixOf } from "../server/domain/tokens.ts";
import type { Team } from "../server/domain/teams.ts";
import { startClientSite, type ClientSite } from "./support/oauth.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";
import { csrfTokenOf, postForm } from "./support/web.ts";

const verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
const challengeOf = (value: string) => encodeBase64urlNoPadding(sha256(new TextEncoder().encode(value)));

describe.each(databaseKinds)("OAuth for /mcp over HTTP on %s", (kind) => {
  let server: TestServer;
  let site: ClientSite;
  let team: Team;
  let admin: { cookie: string; csrf: string };

  beforeAll(async () => {
    [server, site] = await Promise.all([startTestServer(kind, { BOTBOARD_OAUTH_LOCAL_CLIENTS: "true" }), startClientSite("Http Client")]);
    team = await server.team("oah");
    const cookie = await server.engineer(team, "ada");
    admin = { cookie, csrf: await csrfTokenOf(server, cookie) };
  });
  afterAll(async () => {
    await server?.close();
    await site?.close();
  });

  const authorization = (overrides: Record<string, string> = {}) => ({
    client_id: site.clientId,
    redirect_uri: site.redirectUri,
    response_type: "code",
    code_challenge: challengeOf(verifier),
    code_challenge_method: "S256",
    state: "st4te",
    resource: `${server.url}/mcp`,
    ...overrides,
  });

  /** The engineer's Approve, as the consent form posts it; returns where the browser is sent next. */
  async function approve(fields: Record<string, string>, engineer = admin, choice = { newAgent: "httpbot" }): Promise<URL> {
    const response = await postForm(
      server,
      "/oauth/authorize",
      { ...fields, ...choice, scopes: "read", decision: "approve", _csrf: engineer.csrf },
      { cookie: engineer.cookie },
    );
    const refresh = response.headers.get("refresh");
    if (response.status !== 200 || !refresh) throw new Error(`approve answered ${response.status}: ${await response.text()}`);
    return new URL(refresh.replace(/^0; url=/, ""));
  }

  const token = (fields: Record<string, string>) =>
    fetch(`${server.url}/oauth/token`, { method: "POST", body: new URLSearchParams(fields) });

  async function tokensFor(code: string) {
    const response = await token({
      grant_type: "authorization_code",
      code,
      redirect_uri: site.redirectUri,
      client_id: site.clientId,
      code_verifier: verifier,
      resource: `${server.url}/mcp`,
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { access_token: string; refresh_token: string; expires_in: number; scope: string };
  }

  it("/mcp without a token answers 401 naming its resource metadata, which names this server as the authorization server", async () => {
    const response = await fetch(`${server.url}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(401);
    const challenge = response.headers.get("www-authenticate")!;
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${server.url}/.well-known/oauth-protected-resource/mcp`);
    const resource = await (await fetch(metadataUrl!)).json();
    expect(resource).toEqual({
      resource: `${server.url}/mcp`,
      authorization_servers: [server.url],
      scopes_supported: ["read", "write"],
      bearer_methods_supported: ["header"],
      resource_name: "Botboard",
    });
    const authorizationServer = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    expect(authorizationServer).toMatchObject({
      issuer: server.url,
      authorization_endpoint: `${server.url}/oauth/authorize`,
      token_endpoint: `${server.url}/oauth/token`,
      registration_endpoint: `${server.url}/oauth/register`,
      code_challenge_methods_supported: ["S256"],
      client_id_metadata_document_supported: true,
    });
  });

  it("a code is refused with the wrong PKCE verifier, and is spent by the try", async () => {
    const code = (await approve(authorization())).searchParams.get("code")!;
    const wrong = await token({
      grant_type: "authorization_code",
      code,
      redirect_uri: site.redirectUri,
      client_id: site.clientId,
      code_verifier: `${verifier}x`,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.get("cache-control")).toBe("no-store");
    expect(await wrong.json()).toEqual({
      error: "invalid_grant",
      error_description: "code_verifier does not match the code_challenge (PKCE).",
    });
    const retried = await token({
      grant_type: "authorization_code",
      code,
      redirect_uri: site.redirectUri,
      client_id: site.clientId,
      code_verifier: verifier,
    });
    // No tokens were issued for the code, so none can be said to be revoked.
    expect(await retried.json()).toEqual({
      error: "invalid_grant",
      error_description:
        "This authorization code was already presented and refused (expired, or with a wrong client, redirect_uri or code_verifier), so no tokens were issued for it; authorize again.",
    });
  });

  it("a code first tried by another client_id is spent, and its retry says no tokens were issued for it", async () => {
    const code = (await approve(authorization())).searchParams.get("code")!;
    const exchange = (clientId: string) =>
      token({ grant_type: "authorization_code", code, redirect_uri: site.redirectUri, client_id: clientId, code_verifier: verifier });
    expect(await (await exchange("https://other.example/client.json")).json()).toMatchObject({
      error_description: "The code was issued to another client.",
    });
    expect(await (await exchange(site.clientId)).json()).toMatchObject({
      error: "invalid_grant",
      error_description: expect.stringContaining("so no tokens were issued for it"),
    });
  });

  it("the consent form's scope checkboxes, both ticked, send both scopes, and the token carries both", async () => {
    const fields = Object.entries({ ...authorization(), newAgent: "both-scopes-bot", decision: "approve", _csrf: admin.csrf });
    const response = await fetch(`${server.url}/oauth/authorize`, {
      method: "POST",
      headers: { origin: server.url, cookie: admin.cookie },
      body: new URLSearchParams([...fields, ["scopes", "read"], ["scopes", "write"]]),
    });
    expect(response.status).toBe(200);
    const location = new URL(response.headers.get("refresh")!.replace(/^0; url=/, ""));
    expect((await tokensFor(location.searchParams.get("code")!)).scope).toBe("read write");
  });

  it("a code used twice revokes the tokens it gave", async () => {
    const code = (await approve(authorization())).searchParams.get("code")!;
    const tokens = await tokensFor(code);
    expect(tokens).toMatchObject({ expires_in: 3600, scope: "read" });
    expect((await server.as(tokens.access_token, "/mcp", { method: "POST", body: "{}" })).status).not.toBe(401);
    const replayed = await token({
      grant_type: "authorization_code",
      code,
      redirect_uri: site.redirectUri,
      client_id: site.clientId,
      code_verifier: verifier,
    });
    expect(await replayed.json()).toMatchObject({ error: "invalid_grant", error_description: expect.stringContaining("already used") });
    expect((await server.as(tokens.access_token, "/mcp", { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("tokens are bound to /mcp: refused by the REST door, and no token is issued for another resource", async () => {
    const tokens = await tokensFor((await approve(authorization())).searchParams.get("code")!);
    const rest = await server.as(tokens.access_token, "/api/v1/me");
    expect(rest.status).toBe(401);
    expect(await rest.json()).toMatchObject({ error: { message: `This token was issued for ${server.url}/mcp only.` } });

    const elsewhere = await token({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: site.clientId,
      resource: "https://other.example/mcp",
    });
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.json()).toMatchObject({ error: "invalid_target" });

    const refused = await postForm(
      server,
      "/oauth/authorize",
      { ...authorization({ resource: "https://other.example/mcp" }), newAgent: "x", decision: "approve", _csrf: admin.csrf },
      { cookie: admin.cookie },
    );
    expect(refused.status).toBe(303);
    const location = new URL(refused.headers.get("location")!);
    expect(location.origin + location.pathname).toBe(site.redirectUri);
    expect(location.searchParams.get("error")).toBe("invalid_target");
    expect(location.searchParams.get("state")).toBe("st4te");
  });

  it.runIf(kind === "postgres")(
    "a token issued by this server is refused by a server with another public URL on the same database",
    async () => {
      const tokens = await tokensFor((await approve(authorization())).searchParams.get("code")!);
      const other = await server.replica({ BOTBOARD_PUBLIC_URL: "http://botboard.example" });
      try {
        const response = await fetch(`${other.url}/mcp`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens.access_token}`, "content-type": "application/json" },
          body: "{}",
        });
        expect(response.status).toBe(401);
        expect(await response.text()).toContain(`issued for ${server.url}/mcp only`);
      } finally {
        await other.close();
      }
    },
  );

  it("refresh rotates the refresh token: the old one is refused afterwards, and a wider scope is refused", async () => {
    const tokens = await tokensFor((await approve(authorization())).searchParams.get("code")!);
    const wider = await token({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: site.clientId,
      scope: "read write",
    });
    expect(await wider.json()).toMatchObject({ error: "invalid_scope" });
    const refreshed = await token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: site.clientId });
    expect(refreshed.status).toBe(200);
    const again = await token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: site.clientId });
    expect(await again.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("revoking the agent, or one of its OAuth tokens by prefix, from the command line also ends its approvals", async () => {
    const byName = await tokensFor((await approve(authorization(), admin, { newAgent: "cli-named" })).searchParams.get("code")!);
    const byPrefix = await tokensFor((await approve(authorization(), admin, { newAgent: "cli-prefixed" })).searchParams.get("code")!);
    await revokeAgentTokens(server.database.db, cli, team.id, "cli-named");
    await revokeAgentTokens(server.database.db, cli, team.id, displayPrefixOf(byPrefix.access_token));
    for (const tokens of [byName, byPrefix]) {
      expect((await server.as(tokens.access_token, "/mcp", { method: "POST", body: "{}" })).status).toBe(401);
      const refreshed = await token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: site.clientId });
      expect(await refreshed.json()).toMatchObject({ error: "invalid_grant" });
    }
  });

  it("PKCE is required and S256 only: the consent refuses plain back to the client", async () => {
    const refused = await fetch(
      `${server.url}/oauth/authorize?${new URLSearchParams(authorization({ code_challenge_method: "plain", code_challenge: verifier }))}`,
      {
        headers: { cookie: admin.cookie },
        redirect: "manual",
      },
    );
    expect(refused.status).toBe(303);
    const location = new URL(refused.headers.get("location")!);
    expect(location.searchParams.get("error")).toBe("invalid_request");
    expect(location.searchParams.get("error_description")).toBe("code_challenge_method must be S256.");
  });

  it("a redirect_uri the client does not list is shown as an error, never followed", async () => {
    const response = await fetch(
      `${server.url}/oauth/authorize?${new URLSearchParams(authorization({ redirect_uri: "https://attacker.example/cb" }))}`,
      {
        headers: { cookie: admin.cookie },
        redirect: "manual",
      },
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.text()).toContain("is not one that Http Client lists");
  });

  it("an authorization request that gives a parameter twice is shown as an error, never followed (RFC 6749 3.1)", async () => {
    const query = new URLSearchParams(authorization());
    query.append("redirect_uri", "https://attacker.example/cb");
    const response = await fetch(`${server.url}/oauth/authorize?${query}`, { headers: { cookie: admin.cookie }, redirect: "manual" });
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.text()).toContain("redirect_uri is given twice; send it once.");
  });

  it("the consent form refuses another site's post and a member who is not an admin", async () => {
    const crossSite = await postForm(
      server,
      "/oauth/authorize",
      { ...authorization(), newAgent: "x", decision: "approve", _csrf: admin.csrf },
      { cookie: admin.cookie, origin: "https://evil.example" },
    );
    expect(crossSite.status).toBe(403);
    const memberCookie = await server.engineer(team, "mel", "member");
    const member = { cookie: memberCookie, csrf: await csrfTokenOf(server, memberCookie) };
    const response = await postForm(
      server,
      "/oauth/authorize",
      { ...authorization(), newAgent: "x", scopes: "read", decision: "approve", _csrf: member.csrf },
      { cookie: member.cookie },
    );
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("Only a team admin may do this.");
  });

  it("dynamic registration names the field it refuses", async () => {
    const register = (body: unknown) =>
      fetch(`${server.url}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const missing = await register({ client_name: "x" });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({
      error: "invalid_client_metadata",
      error_description: expect.stringContaining("redirect_uris"),
    });
    expect(await (await register({ redirect_uris: ["javascript:alert(1)"] })).json()).toMatchObject({ error: "invalid_redirect_uri" });
    expect(await (await register({ redirect_uris: ["http://attacker.example/cb"] })).json()).toMatchObject({
      error: "invalid_redirect_uri",
    });
    expect(
      await (await register({ redirect_uris: ["https://ok.example/cb"], token_endpoint_auth_method: "client_secret_basic" })).json(),
    ).toMatchObject({
      error: "invalid_client_metadata",
    });
    const created = await register({
      redirect_uris: ["https://ok.example/cb", "http://127.0.0.1/cb", "com.example.app:/cb"],
      client_name: "Fine",
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      client_id: expect.stringMatching(/^bbc_/),
      token_endpoint_auth_method: "none",
      client_name: "Fine",
    });
  });

  it("a client_name or redirect_uri that would show as something else is refused at registration, naming the field and the character", async () => {
    const register = (body: unknown) =>
      fetch(`${server.url}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    // Bidi override and isolates, zero-width and direction marks, byte order mark, C0 and C1 controls, line breaks.
    const hidden = ["\u202E", "\u2066", "\u2069", "\u200B", "\u200F", "\uFEFF", "\u0007", "\u0085", "\n", "\r", "\t", "\u2028", "\u0000"];
    for (const character of hidden) {
      const label = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
      const named = await register({ client_name: `Claude${character}Desktop`, redirect_uris: ["https://ok.example/cb"] });
      expect(named.status, label).toBe(400);
      expect(await named.json()).toEqual({
        error: "invalid_client_metadata",
        error_description: `client_name contains ${label} at character 7 (a control, invisible, direction or line-break character); remove it.`,
      });
      const redirected = await register({ client_name: "Fine", redirect_uris: [`https://evil.example/${character}bc.elpmaxe.doog`] });
      expect(redirected.status, label).toBe(400);
      expect(await redirected.json()).toMatchObject({
        error: "invalid_redirect_uri",
        error_description: expect.stringContaining(`redirect_uri contains ${label} at character 22`),
      });
    }
  });

  it("a redirect_uri with a user name or password before its host is refused at registration", async () => {
    for (const redirectUri of [
      "https://good.example@evil.example/cb",
      "https://user:pass@ok.example/cb",
      "http://127.0.0.1@evil.example/cb",
    ]) {
      const response = await fetch(`${server.url}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_name: "Good Client", redirect_uris: ["https://ok.example/cb", redirectUri] }),
      });
      expect(response.status, redirectUri).toBe(400);
      expect(await response.json()).toEqual({
        error: "invalid_redirect_uri",
        error_description: `A redirect_uri must not have a user name or password before its host (the part before '@'): '${redirectUri}'.`,
      });
    }
  });

  it("a metadata document whose client_name would show as something else is refused on the consent page", async () => {
    const original = site.document;
    try {
      site.document = JSON.stringify({ client_id: site.clientId, client_name: "Desk \u202Etxt.exe", redirect_uris: [site.redirectUri] });
      const response = await fetch(`${server.url}/oauth/authorize?${new URLSearchParams(authorization())}`, {
        headers: { cookie: admin.cookie },
        redirect: "manual",
      });
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(await response.text()).toContain("metadata document contains U+202E at character 6");
    } finally {
      site.document = original;
    }
  });

  it("a metadata document that is too large, or names another client_id, is refused on the consent page", async () => {
    const open = () =>
      fetch(`${server.url}/oauth/authorize?${new URLSearchParams(authorization())}`, {
        headers: { cookie: admin.cookie },
        redirect: "manual",
      });
    const original = site.document;
    try {
      site.document = JSON.stringify({
        client_id: site.clientId,
        redirect_uris: [site.redirectUri],
        padding: "x".repeat(maxClientMetadataBytes),
      });
      const large = await open();
      expect(large.status).toBe(400);
      expect(await large.text()).toContain(`over ${maxClientMetadataBytes} bytes`);
      site.document = JSON.stringify({ client_id: "https://someone.else/client.json", redirect_uris: [site.redirectUri] });
      expect(await (await open()).text()).toContain("client_id is not the URL it was fetched from");
    } finally {
      site.document = original;
    }
  });
});

describe("Client ID Metadata Documents are fetched carefully", () => {
  const strict = { allowLoopbackClientIds: false };
  const noDatabase = undefined as never;

  it("http and loopback URLs are refused unless the development setting allows them", async () => {
    await expect(findOAuthClient(noDatabase, "http://127.0.0.1:9/client.json", strict)).rejects.toThrow("client_id must be an https URL");
    await expect(findOAuthClient(noDatabase, "https://127.0.0.1:9/client.json", strict)).rejects.toThrow("private or local address");
    await expect(findOAuthClient(noDatabase, "https://[::1]:9/client.json", strict)).rejects.toThrow("private or local address");
    await expect(findOAuthClient(noDatabase, "https://10.1.2.3/client.json", strict)).rejects.toThrow("private or local address");
    // The same addresses written as IPv6: mapped (URL parsing makes ::ffff:127.0.0.1 ::ffff:7f00:1), NAT64, 6to4.
    for (const host of ["[::ffff:127.0.0.1]", "[::ffff:a9fe:a9fe]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "127.1", "0x7f000001"]) {
      await expect(findOAuthClient(noDatabase, `https://${host}:9/client.json`, strict), host).rejects.toThrow("private or local address");
    }
    await expect(findOAuthClient(noDatabase, "https://example.com/", strict)).rejects.toThrow("with a path");
    await expect(findOAuthClient(noDatabase, "https://example.com/\u202Enosj.tneilc", strict)).rejects.toThrow("client_id contains U+202E");
  });

  it("a document that never answers is given up after the time limit", async () => {
    const hanging: Server = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/client.json`;
    try {
      await expect(findOAuthClient(noDatabase, url, { allowLoopbackClientIds: true })).rejects.toThrow("could not be fetched");
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  }, 15_000);
});
