import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";

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

/** The server's JSON-RPC response to one request, given without an HTTP transport. */
export async function answerOneCall(server: McpServer, request: JSONRPCRequest): Promise<JSONRPCMessage> {
  const transport = new OneCallTransport(request.id);
  await server.connect(transport);
  return transport.answer(request);
}
