import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/**
 * A real MCP client connected to a server's /mcp with an agent token, as a coding agent would be.
 * `fetch` sees every HTTP request the client makes (to wait for one it sends on its own). It lists
 * the tools once, as agents' clients do, so the SDK's client checks every answer's
 * `structuredContent` against the output schema listed: the server answers tool calls without
 * checking them itself (mcp/server.ts). `listTools: false` for a test that counts requests.
 */
export async function connectMcp(
  serverUrl: string,
  token: string,
  options: { fetch?: typeof fetch; listTools?: boolean } = {},
): Promise<Client> {
  const client = new Client({ name: "botboard-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${serverUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: options.fetch,
    }),
  );
  if (options.listTools !== false) await client.listTools();
  return client;
}

export type ToolCall = CallToolResult & { text: string };

export async function callTool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolCall> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((part) => (part.type === "text" ? part.text : "")).join("\n");
  return { ...result, text };
}
