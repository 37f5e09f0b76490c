import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forgetCachedTokens } from "../server/domain/agents.ts";
import type { Team } from "../server/domain/teams.ts";
import { startProxiedTestServer, type ProxiedTestServer, type TestServer } from "./support/server.ts";

type Operation = { requestBody?: unknown; responses: Record<string, { headers?: Record<string, unknown> }> };
type Document = { paths: Record<string, Record<string, Operation>> };

/**
 * The answers every route may give besides its own (a body too large or not JSON, too many
 * requests, no database) are checked against the server: what it answers is documented, and a
 * route documents a 415 only if it answers one. Postgres only, for the outage.
 */
describe("the OpenAPI document against what the server answers", () => {
  let proxied: ProxiedTestServer;
  let server: TestServer;
  let team: Team;
  let operations: { method: string; path: string; url: string; operation: Operation }[];
  let tokens = 0;
  const freshToken = () => server.agent(team, `caller-${++tokens}`);

  beforeAll(async () => {
    // One try per token, refilled in a quarter of an hour: a token's second request is refused.
    proxied = await startProxiedTestServer({ BOTBOARD_RATE_LIMIT_TOKEN: "1,0.001" });
    server = proxied.server;
    team = await server.team("documented");
    const document = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as Document;
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        url: `${server.url}/api/v1${path.replace("{id}", "1")}`,
        operation,
      })),
    );
  });
  afterAll(() => proxied?.close());

  const send = (token: string, { method, url }: { method: string; url: string }, body?: { type: string; text: string }) =>
    fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": body.type } : {}) },
      body: body?.text,
    });

  /** The status is among the operation's responses, with the headers that tell a client when to retry. */
  function expectDocumented(name: string, operation: Operation, response: Response) {
    const documented = operation.responses[String(response.status)];
    expect(documented, `${name} answers ${response.status}`).toBeDefined();
    // Every answer carries the RateLimit headers; a refusal is where a client reads them.
    const retryHeaders = response.status === 429 ? ["Retry-After", "RateLimit", "RateLimit-Policy"] : ["Retry-After"];
    for (const header of retryHeaders.filter((sent) => response.headers.has(sent))) {
      expect(Object.keys(documented?.headers ?? {}), `${name} ${response.status} sends ${header}`).toContain(header);
    }
  }

  it("a body that is not JSON is a 415 exactly where the document says so, and one over the limit a 413", async () => {
    for (const { method, path, url, operation } of operations) {
      const name = `${method} ${path}`;
      if (method === "GET") {
        expect(operation.responses["415"], name).toBeUndefined();
        continue;
      }
      const notJson = await send(await freshToken(), { method, url }, { type: "text/plain", text: "hello" });
      expect(operation.responses["415"] !== undefined, `${name} documents 415; answered ${notJson.status}`).toBe(notJson.status === 415);
      if (notJson.status === 415) expectDocumented(name, operation, notJson);
      const tooLarge = await send(
        await freshToken(),
        { method, url },
        { type: "application/json", text: " ".repeat(server.config.limits.maxBodyBytes + 1) },
      );
      expect(tooLarge.status, name).toBe(413);
      expectDocumented(name, operation, tooLarge);
    }
  });

  it("every route refuses a query parameter it does not take, as the README says, and documents the 400", async () => {
    for (const { method, path, url, operation } of operations) {
      const refused = await send(await freshToken(), { method, url: `${url}?unknownParameter=1` });
      expect(refused.status, `${method} ${path}`).toBe(400);
      expect((await refused.json()).error.message, `${method} ${path}`).toMatch(/(^|; )unknown query parameter: unknownParameter$/);
      expectDocumented(`${method} ${path}`, operation, refused);
    }
  });

  it("every route answers 429 once a token's tries are spent, and says so", async () => {
    for (const { method, path, url, operation } of operations) {
      const token = await freshToken();
      await send(token, { method, url });
      const refused = await send(token, { method, url });
      expect(refused.status, `${method} ${path}`).toBe(429);
      expectDocumented(`${method} ${path}`, operation, refused);
    }
  });

  it("every route answers 503 while the database is down, and says so", async () => {
    const prepared = await Promise.all(operations.map(async (operation) => ({ ...operation, token: await freshToken() })));
    await proxied.proxy.cut();
    // As a second later, when the token cache has expired: authentication needs the database.
    forgetCachedTokens();
    try {
      for (const { method, path, url, operation, token } of prepared) {
        const unavailable = await send(token, { method, url }, method === "GET" ? undefined : { type: "application/json", text: "{}" });
        expect(unavailable.status, `${method} ${path}`).toBe(503);
        expectDocumented(`${method} ${path}`, operation, unavailable);
      }
    } finally {
      await proxied.proxy.restore();
    }
  });
});
