import { MAX_BATCH_SIZE } from "@modelcontextprotocol/sdk/server/requestBody.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  ErrorCode,
  isInitializeRequest,
  isJSONRPCRequest,
  type JSONRPCErrorResponse,
  type JSONRPCRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { AgentCaller } from "../server/domain/callers.ts";
import type { Config } from "../server/config.ts";
import type { Db } from "../server/db/client.ts";
import { forbidden, type AppError } from "../server/domain/errors.ts";
import { closeMcpSession, openMcpSession, resumeMcpSession } from "../server/domain/mcp-sessions.ts";
import { rateLimitedError, takeCallAllowances, type RequestLimits } from "../server/domain/rate-limits.ts";
import {
  bearerTokenOf,
  describeError,
  limitAgentRequests,
  rateLimitMessage,
  requireAgent,
} from "../server/http/middleware/agent-requests.ts";
import { agentInstructionsOf, getTeam } from "../server/domain/teams.ts";
import { allScopes } from "../server/domain/callers.ts";
import { mcpResourceOf, protectedResourceMetadataUrlOf } from "../server/domain/oauth.ts";
import { shownKey } from "../server/http/middleware/agent-requests.ts";
import { reachableUrlOf } from "../server/http/middleware/public-url.ts";
import { requireUtf8Json } from "../server/http/middleware/utf8-json.ts";
import { logger } from "../server/logger.ts";
import { toolError } from "./context.ts";
import { cancelCallsElsewhere, cancelCallsHere, startCalls } from "./cancelled-calls.ts";
import { answerOneCall, transportWouldAccept } from "./one-call-transport.ts";
import { duplicateIdAnswer, withoutOwnCancellations } from "./batches.ts";
import {
  type InvalidRequestAnswer,
  invalidMessageAnswer,
  invalidParams,
  isToolCall,
  malformedRequestAnswer,
} from "./malformed-messages.ts";
import { createBotboardServer, parseToolSet, toolNamesOf, type ToolSet } from "./server.ts";

type Env = { Variables: { caller: AgentCaller } };

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function hostnameOf(host: string): string {
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
}

/**
 * DNS-rebinding protection: a browser page on another origin must not reach /mcp. A request with an
 * Origin that is not the server's own (or configured) is refused; on a loopback bind, so is a Host
 * that is neither a loopback name nor the public URL's (a rebound domain carries its own name; a
 * reverse proxy in front passes the public one).
 */
export function rejectForeignOrigins(config: Config): MiddlewareHandler {
  const publicUrl = new URL(config.publicUrl);
  const allowedOrigins = new Set([publicUrl.origin, ...config.allowedOrigins]);
  const allowedHosts = new Set([...loopbackHosts, publicUrl.hostname.toLowerCase()]);
  const loopbackBind = loopbackHosts.has(config.host);
  return async function rejectForeignOrigin(c, next) {
    const origin = c.req.header("origin");
    if (origin && !allowedOrigins.has(origin)) throw forbidden(`Origin ${origin} may not call /mcp.`);
    const host = c.req.header("host");
    if (loopbackBind && (!host || !allowedHosts.has(hostnameOf(host).toLowerCase()))) {
      throw forbidden(`This server only answers to localhost and ${publicUrl.hostname}.`);
    }
    await next();
  };
}

/** A 401 names where OAuth clients find how to get a token (RFC 9728 section 5.1). */
function pointToResourceMetadata(config: Config): MiddlewareHandler {
  return async function pointToResourceMetadata(c, next) {
    await next();
    if (c.res.status !== 401) return;
    const metadataUrl = protectedResourceMetadataUrlOf(reachableUrlOf(c, config));
    c.res.headers.set("WWW-Authenticate", `Bearer realm="botboard", resource_metadata="${metadataUrl}", scope="${allScopes.join(" ")}"`);
  };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function unknownToolAnswer(call: JSONRPCRequest, offered: readonly unknown[]): JSONRPCErrorResponse | undefined {
  const name = call.params?.name;
  return offered.includes(name) ? undefined : invalidParams(call, `Unknown tool: ${shownKey(String(name))}`);
}

/**
 * The messages this door answers itself, each with its own error: messages that are not JSON-RPC,
 * requests with malformed params, and calls to tools this endpoint does not offer (the SDK answers
 * those with an isError result; the spec asks for an error).
 */
function refusedMessageAnswers(messages: unknown[], toolSet: ToolSet): Map<unknown, JSONRPCErrorResponse | InvalidRequestAnswer> {
  const offered: readonly unknown[] = toolNamesOf(toolSet);
  const answers = new Map<unknown, JSONRPCErrorResponse | InvalidRequestAnswer>();
  for (const message of messages) {
    const answer = isToolCall(message)
      ? (malformedRequestAnswer(message) ?? unknownToolAnswer(message, offered))
      : (invalidMessageAnswer(message) ?? (isJSONRPCRequest(message) ? malformedRequestAnswer(message) : undefined));
    if (answer) answers.set(message, answer);
  }
  return answers;
}

/** Most requests are not `initialize`: the method is looked at before the SDK's whole check of the message. */
const isInitialize = (message: unknown) =>
  (message as { method?: unknown } | null)?.method === "initialize" && isInitializeRequest(message);

/** The tools a request of nothing but tool calls calls; undefined for any other request (initialize, tools/list). */
function toolsCalledBy(messages: unknown[], calls: JSONRPCRequest[]): ReadonlySet<string> | undefined {
  if (messages.length === 0 || calls.length !== messages.length) return undefined;
  return new Set(calls.map((call) => String(call.params?.name)));
}

/** The code the SDK's transport gives its own HTTP refusals (a wrong method, Accept or Content-Type). */
const serverRefusalCode = -32000;

/**
 * A refusal of the request itself (no token, a foreign Origin, a body over the limit, a 429 for a
 * request that is not a tool call) as the transport's own: a JSON-RPC error with no id, with the
 * HTTP status and headers every door sends and Botboard's error code in `data`, so an MCP client
 * that reads the body finds the message where it looks for one.
 */
export function mcpErrorResponse(caught: unknown, c: Context): Response {
  const { status, code, message } = describeError(caught, c);
  const jsonRpcCode = status >= 500 ? ErrorCode.InternalError : serverRefusalCode;
  return c.json({ jsonrpc: "2.0", id: null, error: { code: jsonRpcCode, message, data: { code } } }, status);
}

const refusedCall = (call: JSONRPCRequest, refusal: AppError) => ({ jsonrpc: "2.0", id: call.id, result: toolError(refusal.message) });

/**
 * A rate-limited tool call (or a batch of nothing but tool calls) is answered as failed tool
 * results (HTTP 200), so the model reads when to retry instead of its client giving up on a
 * transport error; other MCP requests get the 429.
 */
async function refuseToolCall(c: Context, refusal: AppError): Promise<Response | undefined> {
  if (c.req.method !== "POST") return undefined;
  const body = parseJson(await c.req.text());
  if (!body.ok) return undefined;
  const messages = Array.isArray(body.value) ? body.value : [body.value];
  if (messages.length === 0 || !messages.every(isToolCall)) return undefined;
  if (refusal.retryAfterSeconds !== undefined) c.header("Retry-After", String(refusal.retryAfterSeconds));
  const answers = messages.map((call) => refusedCall(call, refusal));
  return c.json(Array.isArray(body.value) ? answers : answers[0], 200);
}

/**
 * Every tool call of a JSON-RPC batch counts: the request drew one try, which pays for its first
 * call; each further call draws its own. Calls over the limit are taken out of the batch and get
 * their own isError answer; the rest run.
 */
async function limitBatchedCalls(
  db: Db,
  limits: RequestLimits,
  c: Context,
  messages: unknown[],
  calls: JSONRPCRequest[],
): Promise<{ allowed: unknown[]; allowedCalls: JSONRPCRequest[]; refusals: object[] }> {
  const further = calls.slice(1);
  if (further.length === 0) return { allowed: messages, allowedCalls: calls, refusals: [] };
  const allowances = await takeCallAllowances(db, limits, { address: c.get("clientAddress"), token: bearerTokenOf(c) }, further.length);
  c.set("rateLimitAllowance", allowances.at(-1)!);
  const refused = new Map(
    further.flatMap((call, index) => {
      const allowance = allowances[index]!;
      return allowance.allowed ? [] : [[call, rateLimitedError(allowance, rateLimitMessage(allowance))] as const];
    }),
  );
  return {
    allowed: messages.filter((message) => !refused.has(message as JSONRPCRequest)),
    allowedCalls: calls.filter((call) => !refused.has(call)),
    refusals: [...refused].map(([call, refusal]) => refusedCall(call, refusal)),
  };
}

/** The SDK's answer to the calls that ran, with the answers to calls refused here (invalid, over the limit) added to the batch. */
async function withRefusals(response: Response, refusals: object[]): Promise<Response> {
  if (refusals.length === 0) return response;
  // 202: what ran were notifications only, which get no answer.
  if (response.status !== 200 && response.status !== 202) return response;
  const answered = response.status === 200 ? ((await response.json()) as object | object[]) : [];
  const headers = new Headers(response.headers);
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify([...[answered].flat(), ...refusals]), { status: 200, headers });
}

/**
 * A POST of one tool call, which the SDK's transport would accept: answered without that transport,
 * whose own work cost about as much as the call (decision 043).
 */
function loneToolCall(headers: Headers, body: unknown, calls: JSONRPCRequest[]): JSONRPCRequest | undefined {
  if (Array.isArray(body) || calls.length !== 1) return undefined;
  return transportWouldAccept(headers) ? calls[0] : undefined;
}

const parseError = { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error: the body is not JSON." } };
/** JSON-RPC 2.0 answers an empty batch with one Invalid Request error (the SDK would accept it and answer nothing). */
const emptyBatchError = { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: the batch is empty." } };

/**
 * MCP over Streamable HTTP, stateless: every POST gets a fresh server (and the SDK's transport, but
 * for a lone tool call), so any process can answer it. Sessions are ours, not the SDK's:
 * `initialize` opens one in the database and its id travels in Mcp-Session-Id (see
 * docs/decisions/010-mcp-sessions.md).
 */
export function mcpRoutes(db: Db, config: Config) {
  const routes = new Hono<Env>();
  const resourceOf = (c: Context) => mcpResourceOf(reachableUrlOf(c, config));
  routes.use(
    rejectForeignOrigins(config),
    cancelCallsHere,
    pointToResourceMetadata(config),
    limitAgentRequests(db, config.rateLimits, bearerTokenOf, refuseToolCall),
    requireAgent(db, resourceOf),
    cancelCallsElsewhere(db),
    requireUtf8Json(),
  );

  routes.post("/", async (c) => {
    const toolSet = parseToolSet(c.req.query("tools"));
    if (!toolSet)
      return c.json(
        { jsonrpc: "2.0", id: null, error: { code: -32600, message: "tools must be a comma list of social, journal, claims or all." } },
        400,
      );
    const body = parseJson(await c.req.text());
    if (!body.ok) return c.json(parseError, 400);
    if (Array.isArray(body.value) && body.value.length === 0) return c.json(emptyBatchError, 400);
    const duplicateIds = Array.isArray(body.value) ? duplicateIdAnswer(body.value) : undefined;
    if (duplicateIds) return c.json(duplicateIds, 400);
    const sent = Array.isArray(body.value) ? body.value : [body.value];
    const refused = refusedMessageAnswers(sent, toolSet);
    const invalidAnswers = [...refused.values()];
    if (refused.size > 0 && refused.size === sent.length) {
      if (Array.isArray(body.value)) return c.json(invalidAnswers, 200);
      // A lone message that is not JSON-RPC is refused as the transport refuses one; a request is answered.
      return c.json(invalidAnswers[0], invalidAnswers[0]!.error.code === ErrorCode.InvalidRequest ? 400 : 200);
    }
    const messages = sent.filter((message) => !refused.has(message));
    // A request the transport refuses whole (its headers, a batch over its size) runs no call: it
    // costs its own try, not one for each call it holds.
    const transportRuns = transportWouldAccept(c.req.raw.headers) && sent.length <= MAX_BATCH_SIZE;
    const calls = transportRuns ? messages.filter(isToolCall) : [];
    // The first tool call is paid for by the request's own try, so something is always left to run.
    const { allowed, allowedCalls, refusals: overLimit } = await limitBatchedCalls(db, config.rateLimits, c, messages, calls);
    const refusals = [...invalidAnswers, ...overLimit];
    const initializing = messages.some(isInitialize);
    const requestedSession = c.req.header("mcp-session-id");
    let caller = c.var.caller;
    let sessionId: string | undefined;
    if (initializing) sessionId = await openMcpSession(db, caller);
    else if (requestedSession) {
      // Only a pick-name token's session holds anything (the chosen name); others skip the lookup.
      if (caller.pickName) caller = await resumeMcpSession(db, caller, requestedSession);
      sessionId = requestedSession;
    }

    const team = initializing ? await getTeam(db, caller.teamId) : undefined;
    const loadTeam = async () => team ?? getTeam(db, caller.teamId);
    const calling = startCalls(c, allowedCalls);
    const server = createBotboardServer(
      { db, config, caller, sessionId, abandoned: calling.abandoned },
      loadTeam,
      team && agentInstructionsOf(team),
      toolSet,
      toolsCalledBy(allowed, allowedCalls),
    );
    const loneCall = loneToolCall(c.req.raw.headers, body.value, allowedCalls);
    if (loneCall) {
      // Not closed: it has no transport, or one that holds no stream, its call has finished, and closing
      // would only build the SDK's "Connection closed" error, stack and all, for no one to read.
      try {
        return c.json(await answerOneCall(server, loneCall), 200);
      } finally {
        calling.done();
      }
    }
    try {
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      const batch = refusals.length > 0 ? allowed : body.value;
      const parsedBody = Array.isArray(batch) ? withoutOwnCancellations(batch) : batch;
      const response = await withRefusals(await transport.handleRequest(c.req.raw, { parsedBody }), refusals);
      if (!initializing || !sessionId) return response;
      const headers = new Headers(response.headers);
      headers.set("mcp-session-id", sessionId);
      return new Response(response.body, { status: response.status, headers });
    } finally {
      calling.done();
      // Closed after the answer leaves, once the call has cleaned up after itself: closed before that,
      // the SDK aborts the finished call, and building that AbortError cost 2% of a read_posts' CPU.
      setImmediate(() => {
        server.close().catch((error: unknown) => logger.warn({ error: String(error) }, "could not close an MCP request's server"));
      });
    }
  });

  // Stateless: the server never pushes, so there is no stream to open.
  routes.get("/", (c) =>
    c.json({ jsonrpc: "2.0", id: null, error: { code: serverRefusalCode, message: "Method not allowed." } }, 405, {
      Allow: "POST, DELETE",
    }),
  );

  routes.delete("/", async (c) => {
    const sessionId = c.req.header("mcp-session-id");
    if (sessionId) await closeMcpSession(db, c.var.caller, sessionId);
    return c.body(null, 200);
  });

  return routes;
}
