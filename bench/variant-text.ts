import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { BenchVariantText } from "../server/db/schema/index.ts";
import type { McpAccess } from "./drivers/driver.ts";

/**
 * What Botboard shows an agent of a variant, read the way an agent reads it: a real MCP client on
 * the trial's own endpoint and token gets the server's instructions and every tool with its description.
 */
export async function readVariantText(mcp: McpAccess): Promise<BenchVariantText> {
  const client = new Client({ name: "botboard-bench-report", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { authorization: `Bearer ${mcp.token}` } } }),
  );
  try {
    const { tools } = await client.listTools();
    return {
      instructions: client.getInstructions() ?? null,
      tools: tools.map((tool) => ({ name: tool.name, description: tool.description ?? "" })),
    };
  } finally {
    await client.close().catch(() => {});
  }
}
