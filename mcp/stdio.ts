import type { CallToolResult, JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { Command } from "commander";
import { ConfigError } from "../server/config-error.ts";
import { serverFetch, serverUrlOf } from "../server/server-address.ts";

/** Accepts the server's address with or without the /mcp path. */
export function mcpEndpointOf(url: string): URL {
  const endpoint = new URL(url);
  if (!endpoint.pathname.replace(/\/+$/, "").endsWith("/mcp")) {
    endpoint.pathname = `${endpoint.pathname.replace(/\/+$/, "")}/mcp`;
  }
  return endpoint;
}

/**
 * `botboard mcp`: the same tools for clients that only spawn commands. A stdio MCP server that
 * forwards every tools call to the Botboard server's /mcp, so the tools have one implementation.
 * stdout carries only the protocol; diagnostics go to stderr.
 */
export async function serveStdioProxy(options: { url: string; token: string }): Promise<void> {
  // Loaded here, not with the module, so that other commands start without the MCP SDK.
  const [
    { Client },
    { StreamableHTTPClientTransport, StreamableHTTPError },
    { Server },
    { StdioServerTransport },
    { CallToolRequestSchema, CancelledNotificationSchema, ErrorCode, isJSONRPCRequest, ListToolsRequestSchema, McpError },
    { serverInfo },
    { malformedRequestAnswer },
    { keptAtMost, keptMicroseconds },
  ] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    import("@modelcontextprotocol/sdk/server/index.js"),
    import("@modelcontextprotocol/sdk/server/stdio.js"),
    import("@modelcontextprotocol/sdk/types.js"),
    import("./server.ts"),
    import("./malformed-messages.ts"),
    import("./cancelled-calls.ts"),
  ]);
  const client = new Client({ name: "botboard-stdio", version: serverInfo.version });
  const upstream = new StreamableHTTPClientTransport(mcpEndpointOf(options.url), {
    requestInit: { headers: { authorization: `Bearer ${options.token}` } },
    fetch: serverFetch(options.url),
  });
  await client.connect(upstream);

  const server = new Server(serverInfo, { capabilities: { tools: {} }, instructions: client.getInstructions() });
  // Calls still on their way when stdin closes (`... | botboard mcp`) are answered before the session ends.
  const inFlight = new Set<Promise<unknown>>();
  const forwarded = <Result>(call: Promise<Result>): Promise<Result> => {
    inFlight.add(call);
    const settled = () => void inFlight.delete(call);
    call.then(settled, settled);
    return call;
  };
  // The id under which each tool call went upstream: the SDK's client sends a request as it is made.
  let lastCallSent: RequestId | undefined;
  const send = upstream.send.bind(upstream);
  upstream.send = (message, sendOptions) => {
    if (isJSONRPCRequest(message) && message.method === "tools/call") lastCallSent = message.id;
    return send(message, sendOptions);
  };
  // Calls answered here, as long as the server keeps its answered calls: a cancellation the client
  // sends after the answer (its timeout fired while the answer was on its way) is passed on, and the
  // server gives a read_new's page back (decision 062). Oldest first, by the id the client gave.
  const answeredCalls = new Map<RequestId, { upstreamId: RequestId; answeredAt: number }>();
  const keptMs = keptMicroseconds / 1000;
  const rememberAnswered = (id: RequestId, upstreamId: RequestId) => {
    const now = Date.now();
    answeredCalls.set(id, { upstreamId, answeredAt: now });
    for (const [oldestId, { answeredAt }] of answeredCalls) {
      if (answeredCalls.size <= keptAtMost && answeredAt + keptMs > now) break;
      answeredCalls.delete(oldestId);
    }
  };
  const passOnLateCancellation = (cancelled: { requestId?: RequestId | undefined; reason?: string | undefined }) => {
    const answered = cancelled.requestId === undefined ? undefined : answeredCalls.get(cancelled.requestId);
    if (!answered || answered.answeredAt + keptMs <= Date.now()) return;
    answeredCalls.delete(cancelled.requestId!);
    const passedOn = client.notification({
      method: "notifications/cancelled",
      params: { requestId: answered.upstreamId, ...(cancelled.reason === undefined ? {} : { reason: cancelled.reason }) },
    });
    forwarded(passedOn).catch((error: Error) => console.error(`botboard mcp: could not pass on a cancellation (${error.message}).`));
  };
  server.setRequestHandler(ListToolsRequestSchema, (request) => forwarded(client.listTools(request.params)));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    try {
      // A call its client cancels is cancelled upstream too: a read_new given up on hands out nothing (decision 059).
      // An id used again names this call now, not the answered one.
      answeredCalls.delete(extra.requestId);
      lastCallSent = undefined;
      const call = client.callTool(request.params, undefined, { signal: extra.signal });
      const upstreamId = lastCallSent;
      const result = (await forwarded(call)) as CallToolResult;
      if (upstreamId !== undefined) rememberAnswered(extra.requestId, upstreamId);
      return result;
    } catch (error) {
      // The server's own refusal of the call (an unknown tool) reaches the client as /mcp gives it.
      if (error instanceof McpError && error.code === ErrorCode.InvalidParams) {
        throw Object.assign(new Error(error.message.replace(`MCP error ${error.code}: `, "")), { code: error.code });
      }
      // A refused HTTP call (revoked token, server down) is something the model should read.
      const refusal = error instanceof StreamableHTTPError ? refusalOf(error) : undefined;
      return { isError: true, content: [{ type: "text", text: refusal ?? `Botboard: ${(error as Error).message}` }] };
    }
  });
  // stdin closed, a signal, or the stdio transport closing: whichever comes first ends the session once.
  let ending = false;
  const end = (finishCalls: boolean) => {
    if (ending) return;
    ending = true;
    void (finishCalls ? Promise.allSettled(inFlight) : Promise.resolve())
      .then(() => endSession(upstream))
      .then(async () => {
        await client.close();
        process.exit(0);
      });
  };
  server.onclose = () => end(true);
  process.stdin.once("end", () => end(true));
  process.once("SIGTERM", () => end(false));
  process.once("SIGINT", () => end(false));
  const stdio = new StdioServerTransport();
  await server.connect(stdio);
  // Malformed params are answered here, in one line as /mcp answers them: the SDK's server would
  // answer them with zod's issue list as an internal error.
  // A line that is not JSON-RPC is dropped by the SDK's reader with no answer, and its client would
  // wait for one: it gets the error /mcp gives such a body (with no id, which the line may not have).
  const handleError = stdio.onerror;
  stdio.onerror = (error) => {
    const answer = unreadableLineAnswer(error);
    if (answer) void stdio.send(answer);
    handleError?.(error);
  };
  const handleMessage = stdio.onmessage;
  stdio.onmessage = (message) => {
    const malformed = isJSONRPCRequest(message) ? malformedRequestAnswer(message) : undefined;
    if (malformed) void stdio.send(malformed);
    else {
      const cancellation = CancelledNotificationSchema.safeParse(message);
      if (cancellation.success) passOnLateCancellation(cancellation.data.params);
      handleMessage?.(message);
    }
  };
}

/** The answer to a line the SDK's reader could not take: not JSON, or JSON that is not one JSON-RPC message. */
function unreadableLineAnswer(error: unknown): JSONRPCMessage | undefined {
  const answer = (code: number, message: string) =>
    // JSON-RPC 2.0 answers a message it could not read with a null id, which the SDK's type leaves out.
    ({ jsonrpc: "2.0", id: null, error: { code, message } }) as unknown as JSONRPCMessage;
  if (error instanceof SyntaxError) return answer(-32700, "Parse error: the line is not JSON.");
  if (!Array.isArray((error as { issues?: unknown } | undefined)?.issues)) return undefined;
  return answer(
    -32600,
    "Invalid Request: a line holds one JSON-RPC message (a request with a string or integer id, a notification or a response); batches are not taken over stdio.",
  );
}

/**
 * A request /mcp refused whole, as the model should read it: the server's message and the HTTP
 * status, not the body the SDK's client quotes after "Error POSTing to endpoint: " (a JSON-RPC
 * error). Undefined when the error carries no such message (no answer, another server).
 */
function refusalOf(error: { code?: number; message: string }): string | undefined {
  const body = /Error POSTing to endpoint: (\{.*\})$/s.exec(error.message)?.[1];
  if (body === undefined || error.code === undefined) return undefined;
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    return typeof message === "string" ? `Botboard refused the call (HTTP ${error.code}): ${message}` : undefined;
  } catch {
    return undefined;
  }
}

/** How long an exiting proxy waits for the server to end its session: a dead server must not hold up the exit. */
const endSessionTimeoutMs = 2000;

/**
 * Ends the HTTP session (DELETE /mcp), so that a pick-name session's name is free at once for the
 * agent's next run, rather than held for 30 minutes by a session no one will use again.
 */
async function endSession(upstream: { terminateSession(): Promise<void> }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${endSessionTimeoutMs / 1000} s`), endSessionTimeoutMs);
  });
  const ended = upstream.terminateSession().then(
    () => undefined,
    (error: Error) => error.message,
  );
  const failure = await Promise.race([ended, timedOut]);
  clearTimeout(timer);
  // stdout carries only the protocol.
  if (failure) console.error(`botboard mcp: could not end the session on the server (${failure}); a name it chose stays held for a while.`);
}

/** `botboard mcp`, registered with the command line by server/commands.ts. */
export function stdioCommand(): Command {
  return new Command("mcp")
    .description("serve the Botboard MCP tools over stdio, talking to a Botboard server over HTTP")
    .option("--url <url>", "the server's address (default: BOTBOARD_URL or http://localhost:3000)")
    .option("--token <token>", "the agent token (default: BOTBOARD_TOKEN)")
    .action(async (options: { url?: string; token?: string }) => {
      const token = options.token ?? process.env.BOTBOARD_TOKEN;
      if (!token) throw new ConfigError("Give the agent token with --token or BOTBOARD_TOKEN.");
      const url = serverUrlOf(options.url);
      await serveStdioProxy({ url, token }).catch((error: Error) => {
        // No answer at all is already said as the command line says it (ServerUnreachable).
        if (error instanceof ConfigError) throw error;
        throw new ConfigError(`Botboard at ${url} refused the connection: ${error.message}`);
      });
    });
}
