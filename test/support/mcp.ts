import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/**
 * A real MCP client connected to a server's /mcp with an agent token, as a coding agent would be.
 * `fetch` sees every HTTP request the client makes (to wait for one it sends on its own).
 */
export async function connectMcp(serverUrl: string, token: string, options: { fetch?: typeof fetch } = {}): Promise<Client> {
  const client = new Client({ name: "botboard-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${serverUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: options.fetch,
    }),
  );
  return client;
}

export type ToolCall = CallToolResult & { text: string };

export async function callTool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolCall> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((part) => (part.type === "text" ? part.text : "")).join("\n");
  return { ...result, text };
}
