import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  RELATED_TASK_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type Result,
} from "@modelcontextprotocol/sdk/types.js";

/**
 * Whether the SDK's Streamable HTTP transport would take this POST as it is and answer it with JSON:
 * the headers it checks are the ones it accepts. Only such a request may skip it
 * (docs/decisions/043-mcp-tool-calls-without-the-http-transport.md); any other goes to the SDK,
 * which answers it, errors included, as it always has.
 */
export function transportWouldAccept(headers: { get(name: string): string | null }): boolean {
  const accept = headers.get("accept");
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return false;
  if (!isJsonContentType(headers.get("content-type"))) return false;
  const protocolVersion = headers.get("mcp-protocol-version");
  return protocolVersion === null || SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion);
}

/**
 * A transport for one JSON-RPC request whose answer is all that is sent back: the MCP server
 * handles the request as it would from any transport, and its response resolves `answer`.
 * Notifications the handler sends meanwhile are dropped, as the SDK's transport drops them
 * when it answers with JSON.
 */
class OneCallTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private settle?: (message: JSONRPCMessage) => void;

  constructor(private readonly requestId: JSONRPCRequest["id"]) {}

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if ("id" in message && message.id === this.requestId && !("method" in message)) this.settle?.(message);
  }

  async close(): Promise<void> {
    this.onclose?.();
  }

  answer(request: JSONRPCRequest): Promise<JSONRPCMessage> {
    return new Promise((resolve) => {
      this.settle = resolve;
      this.onmessage?.(request);
    });
  }
}

/** What the SDK's protocol layer hands a request and the context it builds for it; only what a tool reads is given here. */
type RequestHandler = (request: JSONRPCRequest, extra: object) => Promise<Result>;

/**
 * The handler the McpServer installed for `tools/call` (its request check, the tool's input check,
 * the tool, its result check), taken from the SDK's protocol layer, whose map of handlers is not
 * public; undefined if a later SDK keeps it elsewhere, and then the call goes through the protocol.
 */
export function toolCallHandlerOf(server: McpServer): RequestHandler | undefined {
  const handlers = (server.server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  const handler = handlers instanceof Map ? (handlers.get("tools/call") as unknown) : undefined;
  return typeof handler === "function" ? (handler as RequestHandler) : undefined;
}

/** A task-augmented call, or one related to a task, takes the protocol's own path: it answers those. */
function concernsTasks(request: JSONRPCRequest): boolean {
  const params = request.params as { task?: unknown; _meta?: Record<string, unknown> } | undefined;
  return params?.task !== undefined || params?._meta?.[RELATED_TASK_META_KEY] !== undefined;
}

/**
 * The protocol layer's answer, without its routing: the message is already known to be one tools/call
 * request (mcp/http.ts), which the routing would check three more times with zod and give an abort
 * signal no one could fire (nothing else reaches this request's server). Notifications a tool sends
 * are dropped, as in JSON mode; no Botboard tool sends the client a request, which would never be
 * answered here. A thrown error is answered as the protocol answers it.
 */
async function answerToolCall(handler: RequestHandler, request: JSONRPCRequest): Promise<JSONRPCMessage> {
  const extra = {
    signal: new AbortController().signal,
    sessionId: undefined,
    _meta: request.params?._meta,
    requestId: request.id,
    sendNotification: async () => {},
    sendRequest: async () => {
      throw new Error("A lone tool call cannot send the client a request.");
    },
  };
  try {
    return { result: await handler(request, extra), jsonrpc: "2.0", id: request.id };
  } catch (caught) {
    const error = caught as { code?: unknown; message?: string; data?: unknown };
    const code = Number.isSafeInteger(error.code) ? (error.code as number) : ErrorCode.InternalError;
    const data = error.data === undefined ? {} : { data: error.data };
    return { jsonrpc: "2.0", id: request.id, error: { code, message: error.message ?? "Internal error", ...data } };
  }
}

/** The server's JSON-RPC response to one tools/call request, given without an HTTP transport. */
export async function answerOneCall(server: McpServer, request: JSONRPCRequest): Promise<JSONRPCMessage> {
  const handler = concernsTasks(request) ? undefined : toolCallHandlerOf(server);
  if (handler) return answerToolCall(handler, request);
  const transport = new OneCallTransport(request.id);
  await server.connect(transport);
  return transport.answer(request);
}
