import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../server/config.ts";
import { callTool, connectMcp } from "./support/mcp.ts";
import { serveBotboard, stop } from "./support/cli.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const mcpHeaders = { accept: "application/json, text/event-stream", "content-type": "application/json" };

/** One answer of a JSON-RPC batch of tools/call requests. */
type ToolAnswer = { id: number; result: { isError?: boolean; content: { text: string }[] } };

/** `compat` answers in Botboard.biz's error shape, `{"error": message, "code"}`; `mcp` as a JSON-RPC error, its code in `data`. */
async function expectRateLimited(response: Response, policy: string, door: "api" | "compat" | "mcp" = "api") {
  expect(response.status).toBe(429);
  expect(response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
  expect(response.headers.get("ratelimit-policy")).toContain(`"${policy}";q=`);
  expect(response.headers.get("ratelimit")).toMatch(new RegExp(`"${policy}";r=0;t=\\d+`));
  const body = await response.json();
  const { code, message } =
    door === "compat"
      ? { code: body.code, message: body.error }
      : door === "mcp"
        ? { ...body.error, code: body.error.data.code }
        : body.error;
  expect(code).toBe("rate_limited");
  expect(message).toMatch(/Wait \d+ seconds? and try again/);
}

describe.each(databaseKinds)("rate limits on %s", (kind) => {
  describe("per token: 3 at once, then one every 5 s", () => {
    let server: TestServer;
    let team: Awaited<ReturnType<TestServer["team"]>>;
    beforeAll(async () => {
      server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "3,0.2", BOTBOARD_RATE_LIMIT_ADDRESS: "off" });
      team = await server.team("limited");
    }, 120_000);
    afterAll(() => server?.close());

    it("REST: the fourth quick request is a 429 with Retry-After and RateLimit headers", async () => {
      const token = await server.agent(team, "rest-agent");
      const remaining: (string | null)[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await server.as(token, "/api/v1/me");
        expect(response.status).toBe(200);
        expect(response.headers.get("ratelimit-policy")).toBe('"token";q=3;w=15');
        remaining.push(response.headers.get("ratelimit"));
      }
      expect(remaining.map((header) => /r=(\d+)/.exec(header ?? "")?.[1])).toEqual(["2", "1", "0"]);
      const refused = await server.as(token, "/api/v1/posts", { method: "POST", body: JSON.stringify({ content: "one too many" }) });
      await expectRateLimited(refused, "token");
      expect(refused.headers.get("retry-after")).toBe("5");
      const feed = await (
        await fetch(`${server.url}/api/v1/posts`, { headers: { authorization: `Bearer ${await server.agent(team, "reader")}` } })
      ).json();
      expect(feed.posts).toEqual([]);
    });

    it("the compat API counts the same way, with the token in x-api-key", async () => {
      const token = await server.agent(team, "compat-agent");
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 4; i++) {
        last = await fetch(`${server.url}/teams/limited/posts`, { headers: { "x-api-key": token } });
        statuses.push(last.status);
        if (i < 3) await last.body?.cancel();
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      await expectRateLimited(last!, "token", "compat");
    });

    it("MCP: a tool call over the limit is an isError result saying when to retry, and works after that wait", async () => {
      const token = await server.agent(team, "mcp-agent");
      // Connecting takes the three tries: initialize, its notification, and the client's GET for a
      // stream, which it sends on its own once connected; the test waits for that GET's answer.
      let streamAnswered: (() => void) | undefined;
      const streamRequested = new Promise<void>((resolve) => (streamAnswered = resolve));
      const client = await connectMcp(server.url, token, {
        listTools: false,
        fetch: async (input, init) => {
          try {
            return await fetch(input, init);
          } finally {
            if (init?.method === "GET") streamAnswered!();
          }
        },
      });
      try {
        await streamRequested;
        const refused = await callTool(client, "create_post", { content: "one too many" });
        expect(refused.isError).toBe(true);
        expect(refused.text).toMatch(/^Too many requests with this token\. Wait \d+ seconds? and try again\.$/);
        const other = await server.agent(team, "counter");
        expect((await (await server.as(other, "/api/v1/posts")).json()).posts).toEqual([]);

        await sleep(Number(/Wait (\d+)/.exec(refused.text)![1]) * 1000);
        const allowed = await callTool(client, "create_post", { content: "after waiting" });
        expect(allowed.isError).toBeFalsy();
      } finally {
        await client.close();
      }
    }, 15_000);

    it("MCP: each tool call of a JSON-RPC batch draws its own try; those over the limit get their own isError", async () => {
      const token = await server.agent(team, "mcp-batcher");
      const calls = (first: number, count: number) =>
        Array.from({ length: count }, (_, index) => ({
          jsonrpc: "2.0",
          id: first + index,
          method: "tools/call",
          params: { name: "create_post", arguments: { content: `batched ${first + index}` } },
        }));
      const send = (body: object) => server.as(token, "/mcp", { method: "POST", headers: mcpHeaders, body: JSON.stringify(body) });
      const partly = await send(calls(1, 5));
      expect(partly.status).toBe(200);
      expect(partly.headers.get("ratelimit")).toMatch(/^"token";r=0;t=\d+$/);
      const answers = (await partly.json()) as ToolAnswer[];
      expect(
        answers
          .filter((answer) => !answer.result.isError)
          .map((answer) => answer.id)
          .sort(),
      ).toEqual([1, 2, 3]);
      expect(
        answers
          .filter((answer) => answer.result.isError)
          .map((answer) => [answer.id, answer.result.content[0]!.text])
          .sort(),
      ).toEqual([
        [4, "Too many requests with this token. Wait 5 seconds and try again."],
        [5, "Too many requests with this token. Wait 5 seconds and try again."],
      ]);
      // With the bucket empty the request itself is refused: still one isError per call, not a bare 429.
      const refused = await send(calls(6, 2));
      expect(refused.status).toBe(200);
      expect(refused.headers.get("retry-after")).toMatch(/^[1-5]$/);
      expect(((await refused.json()) as ToolAnswer[]).map((answer) => [answer.id, answer.result.isError])).toEqual([
        [6, true],
        [7, true],
      ]);
      const feed = await (
        await fetch(`${server.url}/teams/limited/posts`, { headers: { "x-api-key": await server.agent(team, "batch-reader") } })
      ).json();
      expect(feed.posts.filter((post: { author: string }) => post.author === "mcp-batcher")).toHaveLength(3);
    });

    it("MCP: a batch the transport refuses whole (over 100 messages, or a wrong Accept) costs one try, not one a call", async () => {
      const token = await server.agent(team, "mcp-refused-batcher");
      const calls = (count: number) =>
        Array.from({ length: count }, (_, index) => ({
          jsonrpc: "2.0",
          id: index + 1,
          method: "tools/call",
          params: { name: "read_posts", arguments: {} },
        }));
      const send = (body: object, headers: Record<string, string> = mcpHeaders) =>
        server.as(token, "/mcp", { method: "POST", headers, body: JSON.stringify(body) });
      const tooMany = await send(calls(101));
      expect(tooMany.status).toBe(400);
      expect(tooMany.headers.get("ratelimit")).toMatch(/^"token";r=2;t=\d+$/);
      const notAccepted = await send(calls(5), { ...mcpHeaders, accept: "application/json" });
      expect(notAccepted.status).toBe(406);
      expect(notAccepted.headers.get("ratelimit")).toMatch(/^"token";r=1;t=\d+$/);
    });

    it("MCP requests other than tool calls get the 429 itself", async () => {
      const token = await server.agent(team, "mcp-lister");
      const list = () =>
        server.as(token, "/mcp", {
          method: "POST",
          headers: { accept: "application/json, text/event-stream", "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
        });
      const allowed = await list();
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get("ratelimit")).toMatch(/^"token";r=2;t=\d+$/);
      for (let i = 0; i < 2; i++) await (await list()).body?.cancel();
      const refused = await list();
      await expectRateLimited(refused.clone(), "token", "mcp");
      expect(await refused.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
    });

    it("a made-up token draws from its own bucket and is still refused as unknown", async () => {
      const fake = `bb_${"a".repeat(52)}`;
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await server.as(fake, "/api/v1/me")).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
    });
  });

  describe("honouring Retry-After", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "2,1", BOTBOARD_RATE_LIMIT_ADDRESS: "off" });
    }, 120_000);
    afterAll(() => server?.close());

    it("a client that waits as long as Retry-After says is allowed again", async () => {
      const token = await server.agent(await server.team("patient"), "patient");
      expect((await server.as(token, "/api/v1/me")).status).toBe(200);
      expect((await server.as(token, "/api/v1/me")).status).toBe(200);
      const refused = await server.as(token, "/api/v1/me");
      expect(refused.status).toBe(429);
      const wait = Number(refused.headers.get("retry-after"));
      expect(wait).toBe(1);
      await sleep(wait * 1000);
      const again = await server.as(token, "/api/v1/me");
      expect(again.status).toBe(200);
      // The try just taken was the one refilled (r=0), or, on a machine slow enough to ask more than
      // two seconds after the refusal, one of two (r=1): once a CI run took that long.
      expect(again.headers.get("ratelimit")).toMatch(/^"token";r=[01];t=\d+$/);
    });
  });

  describe("JSON-RPC batches against 120 at once, then 20 a second per token", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "120,20", BOTBOARD_RATE_LIMIT_ADDRESS: "off" });
    }, 120_000);
    afterAll(() => server?.close());

    // Protocol 2025-03-26 allowed batches on Streamable HTTP (2025-06-18 dropped them); the SDK accepts them either way.
    const batch = (token: string, first: number, count: number) =>
      server.as(token, "/mcp", {
        method: "POST",
        headers: { ...mcpHeaders, "mcp-protocol-version": "2025-03-26" },
        body: JSON.stringify(
          Array.from({ length: count }, (_, index) => ({
            jsonrpc: "2.0",
            id: first + index,
            method: "tools/call",
            params: { name: "create_post", arguments: { content: `batched ${first + index}` } },
          })),
        ),
      });

    it("a batch of 100 create_post calls is limited like 100 single calls", async () => {
      const team = await server.team("batched");
      const token = await server.agent(team, "batcher");
      const started = performance.now();
      const first = await batch(token, 0, 100);
      const secondStarted = performance.now();
      const second = await batch(token, 100, 100);
      const seconds = (performance.now() - started) / 1000;
      const secondSeconds = (performance.now() - secondStarted) / 1000;
      const answers = [...(await first.json()), ...(await second.json())] as ToolAnswer[];
      expect(answers.map((answer) => answer.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, index) => index));
      // The first hundred fit in the burst of 120; after that the bucket only refills at 20 a second.
      expect(answers.filter((answer) => answer.id < 100 && answer.result.isError)).toEqual([]);
      const ran = answers.filter((answer) => !answer.result.isError);
      expect(ran.length).toBeGreaterThanOrEqual(120);
      expect(ran.length).toBeLessThanOrEqual(120 + 20 * seconds);
      const refused = answers.filter((answer) => answer.result.isError);
      expect(refused.length).toBeGreaterThan(0);
      for (const answer of refused)
        expect(answer.result.content[0]!.text).toBe("Too many requests with this token. Wait 1 second and try again.");
      // The RateLimit headers tell the bucket after the whole batch, not after its first call.
      const remaining = (response: Response) => Number(/^"token";r=(\d+);t=\d+$/.exec(response.headers.get("ratelimit")!)![1]);
      expect(remaining(first)).toBeLessThanOrEqual(20 + 20 * seconds);
      // The second batch emptied the bucket (it had refusals); its calls are drawn one after another, so
      // what is left is only what refilled while the rest were drawn (after its first call: 19 or more).
      expect(remaining(second)).toBeLessThanOrEqual(20 * secondSeconds);
      // Refused calls wrote nothing: the feed holds exactly the posts whose calls ran.
      const feed = await (
        await fetch(`${server.url}/teams/batched/posts`, { headers: { "x-api-key": await server.agent(team, "counter") } })
      ).json();
      expect(feed.totalCount).toBe(ran.length);
    }, 60_000);
  });

  describe("per address", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "4,0.1" });
    }, 120_000);
    afterAll(() => server?.close());

    it("every token and door from one address shares the address's bucket", async () => {
      const team = await server.team("shared-address");
      const [first, second] = [await server.agent(team, "first"), await server.agent(team, "second")];
      const statuses = [
        (await server.as(first, "/api/v1/me")).status,
        (await server.as(second, "/api/v1/me")).status,
        (await fetch(`${server.url}/teams/shared-address/posts`, { headers: { "x-api-key": first } })).status,
        (await server.as(second, "/api/v1/posts")).status,
      ];
      expect(statuses).toEqual([200, 200, 200, 200]);
      // With no trusted proxy configured, a made-up X-Forwarded-For is ignored.
      const refused = await server.as(first, "/api/v1/me", { headers: { "x-forwarded-for": "203.0.113.9" } });
      await expectRateLimited(refused.clone(), "address");
      expect((await refused.json()).error.message).toContain("from this address");
      expect(refused.headers.get("ratelimit-policy")).toBe('"address";q=4;w=40');
      // Requests without any token count too: a flood of guesses is cut off by address.
      expect((await fetch(`${server.url}/api/v1/me`)).status).toBe(429);
    });
  });

  describe("behind a trusted reverse proxy", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, {
        BOTBOARD_RATE_LIMIT_TOKEN: "off",
        BOTBOARD_RATE_LIMIT_ADDRESS: "2,0.01",
        BOTBOARD_TRUSTED_PROXIES: "127.0.0.1, ::1",
      });
    }, 120_000);
    afterAll(() => server?.close());

    it("each client the proxy names in X-Forwarded-For has its own bucket, whatever it wrote there itself", async () => {
      const token = await server.agent(await server.team("proxied"), "behind-proxy");
      const from = (forwardedFor: string) => server.as(token, "/api/v1/me", { headers: { "x-forwarded-for": forwardedFor } });
      expect((await from("203.0.113.5")).status).toBe(200);
      expect((await from("203.0.113.5")).status).toBe(200);
      await expectRateLimited(await from("203.0.113.5"), "address");
      // The proxy appends the address it heard from; what the client put before it is not believed.
      await expectRateLimited(await from("198.51.100.7, 203.0.113.5"), "address");
      expect((await from("203.0.113.6")).status).toBe(200);
      // A chain of trusted proxies is walked past to the client.
      expect((await from("203.0.113.7, 127.0.0.1")).status).toBe(200);
      expect((await from("203.0.113.7, 127.0.0.1")).status).toBe(200);
      await expectRateLimited(await from("203.0.113.7"), "address");
    });
  });

  describe("switched off", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "0" });
    }, 120_000);
    afterAll(() => server?.close());

    it("with both limits off nothing is refused and no RateLimit headers are sent", async () => {
      const token = await server.agent(await server.team("unlimited"), "busy");
      const responses = await Promise.all(Array.from({ length: 200 }, () => server.as(token, "/api/v1/me")));
      expect(new Set(responses.map((response) => response.status))).toEqual(new Set([200]));
      expect(responses[0]!.headers.get("ratelimit")).toBeNull();
      expect(responses[0]!.headers.get("ratelimit-policy")).toBeNull();
    });
  });

  describe("signing in", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind);
    }, 120_000);
    afterAll(() => server?.close());

    it("the eleventh quick try for one account is a 429 with Retry-After and RateLimit headers", async () => {
      const attempt = () =>
        fetch(`${server.url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "nobody", password: "not the password" }),
        });
      for (let i = 0; i < 10; i++) expect((await attempt()).status).toBe(401);
      const refused = await attempt();
      await expectRateLimited(refused.clone(), "login-account");
      expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(30);
      expect(refused.headers.get("ratelimit-policy")).toBe('"login-account";q=10;w=300, "login-address";q=30;w=60');
    });
  });
});

describe("rate limits shared by two server processes on one Postgres", () => {
  let first: TestServer;
  let second: Awaited<ReturnType<typeof serveBotboard>>;
  const limits = { BOTBOARD_RATE_LIMIT_TOKEN: "10,0.01", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };

  beforeAll(async () => {
    first = await startTestServer("postgres", limits);
    second = await serveBotboard({ ...limits, PORT: "0", LOG_LEVEL: "warn", DATABASE_URL: first.config.databaseUrl! });
  }, 60_000);
  afterAll(async () => {
    if (second) await stop(second.process);
    await first?.close();
  });

  it("requests spread over both processes draw from one bucket: 10 allowed in all", async () => {
    const token = await first.agent(await first.team("balanced"), "spread");
    const backends = [first.url, second.url];
    // One at a time, alternating: with a bucket per process each would allow 10, 20 in all.
    const responses: Response[] = [];
    for (let i = 0; i < 30; i++) {
      const response = await fetch(`${backends[i % 2]}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      await response.body?.cancel();
      responses.push(response);
    }
    const allowedBy = backends.map((_, b) => responses.filter((response, i) => i % 2 === b && response.status === 200).length);
    expect(allowedBy).toEqual([5, 5]);
    expect(responses.filter((response) => response.status === 429)).toHaveLength(20);
  });
});

describe("rate-limit configuration", () => {
  it("defaults to 120 at once and 20/s per token, 300 and 50/s per address", () => {
    expect(loadConfig({}).rateLimits).toEqual({ perToken: { capacity: 120, perSecond: 20 }, perAddress: { capacity: 300, perSecond: 50 } });
  });

  it("reads capacity,perSecond, and off or 0 switches a limit off", () => {
    expect(loadConfig({ BOTBOARD_RATE_LIMIT_TOKEN: "5, 0.5", BOTBOARD_RATE_LIMIT_ADDRESS: "OFF" }).rateLimits).toEqual({
      perToken: { capacity: 5, perSecond: 0.5 },
      perAddress: undefined,
    });
    expect(loadConfig({ BOTBOARD_RATE_LIMIT_TOKEN: "0" }).rateLimits.perToken).toBeUndefined();
  });

  it("reads trusted proxies as addresses and CIDR ranges, and refuses anything else naming the variable", () => {
    expect(loadConfig({ BOTBOARD_TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8,fd00::/8" }).trustedProxies).toEqual([
      "127.0.0.1",
      "10.0.0.0/8",
      "fd00::/8",
    ]);
    expect(loadConfig({}).trustedProxies).toEqual([]);
    for (const bad of ["localhost", "10.0.0.0/33", "10.0.0.1/8/1", "10.0.0.0/x"]) {
      expect(() => loadConfig({ BOTBOARD_TRUSTED_PROXIES: bad })).toThrow(
        /BOTBOARD_TRUSTED_PROXIES: must be comma-separated IP addresses or CIDR ranges/,
      );
    }
  });

  it("an unreadable rule stops start-up naming the variable", () => {
    expect(() => loadConfig({ BOTBOARD_RATE_LIMIT_TOKEN: "lots" })).toThrow(/BOTBOARD_RATE_LIMIT_TOKEN: must be "capacity,perSecond"/);
    expect(() => loadConfig({ BOTBOARD_RATE_LIMIT_ADDRESS: "10,0" })).toThrow(/BOTBOARD_RATE_LIMIT_ADDRESS/);
  });
});
