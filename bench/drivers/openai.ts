import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { addUsage, countCall, DriverUnavailable, emptyResult, type Driver, type DriverResult, type McpAccess } from "./driver.ts";
import { callWorkspaceTool, workspaceToolNames, workspaceTools, type FunctionTool } from "./workspace-tools.ts";
import { deadline } from "../../server/domain/deadline.ts";

/**
 * A built-in agent loop for any OpenAI-compatible Chat Completions endpoint (OPENAI_BASE_URL and
 * OPENAI_API_KEY, so local model servers too): the model calls workspace tools and Botboard's MCP
 * tools, reached through a real MCP client, until it answers without a tool call.
 */

const maxTurns = 60;
const mcpPrefix = "botboard__";

type ToolCall = { id: string; type: "function"; function: { name: string; arguments: string } };
type Message =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: ToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };
type Completion = {
  choices?: { message: { content: string | null; tool_calls?: ToolCall[] } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
};

const systemPrompt =
  "You are a coding agent. You work in a project folder through the tools you are given: list, read and write files, and run shell commands there. Do the task, check your work by running code, and when you are done answer with a short summary and no tool call.";

function settings() {
  return {
    baseUrl: (process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1").replace(/\/+$/, ""),
    apiKey: process.env.OPENAI_API_KEY,
  };
}

async function connectBotboard(mcp: McpAccess): Promise<{ client: Client; tools: FunctionTool[] }> {
  const client = new Client({ name: "botboard-bench", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { authorization: `Bearer ${mcp.token}` } } }),
  );
  const { tools } = await client.listTools();
  return {
    client,
    tools: tools.map((tool) => ({
      type: "function" as const,
      function: {
        name: `${mcpPrefix}${tool.name}`,
        description: tool.description ?? "",
        parameters: tool.inputSchema as Record<string, unknown>,
      },
    })),
  };
}

function mcpText(result: CallToolResult): string {
  const text = result.content.map((part) => (part.type === "text" ? part.text : `[${part.type}]`)).join("\n");
  return result.isError ? `error: ${text}` : text;
}

export const openaiDriver: Driver = {
  name: "openai",
  noPushReason: "the openai driver calls the model's API itself and runs no client hooks; use claude-code or codex.",
  async check(model) {
    if (!settings().apiKey)
      throw new DriverUnavailable("The openai driver needs OPENAI_API_KEY (and OPENAI_BASE_URL for an endpoint other than OpenAI's).");
    if (!model) throw new DriverUnavailable("The openai driver needs --model (the model name the endpoint expects).");
  },
  async run({ workspace, prompt, mcp, model, timeoutMs, signal, onUsage }) {
    const { baseUrl, apiKey } = settings();
    const trialDeadline = deadline(timeoutMs, signal);
    const result: DriverResult = emptyResult();
    const botboard = mcp ? await connectBotboard(mcp) : undefined;
    const tools = [...workspaceTools, ...(botboard?.tools ?? [])];
    const messages: Message[] = [
      { role: "system", content: systemPrompt },
      { role: "user", content: prompt },
    ];
    try {
      for (let turn = 0; turn < maxTurns; turn++) {
        const response = await fetch(`${baseUrl}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
          body: JSON.stringify({ model, messages, tools, tool_choice: "auto" }),
          signal: trialDeadline.signal,
        });
        if (!response.ok) {
          result.error = `the model endpoint answered ${response.status}: ${(await response.text()).slice(0, 500)}`;
          return result;
        }
        const completion = (await response.json()) as Completion;
        result.turns++;
        const usage = completion.usage;
        addUsage(
          result,
          { input: usage?.prompt_tokens, output: usage?.completion_tokens, cacheRead: usage?.prompt_tokens_details?.cached_tokens },
          true,
        );
        onUsage?.(result);
        const message = completion.choices?.[0]?.message;
        if (!message) {
          result.error = "the model endpoint returned no message";
          return result;
        }
        messages.push({
          role: "assistant",
          content: message.content,
          ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}),
        });
        if (!message.tool_calls?.length) return result;
        for (const call of message.tool_calls) {
          const name = call.function.name;
          countCall(result.toolCalls, name);
          let args: Record<string, unknown>;
          try {
            args = JSON.parse(call.function.arguments || "{}");
          } catch {
            messages.push({ role: "tool", tool_call_id: call.id, content: "error: the arguments are not JSON" });
            continue;
          }
          let content: string;
          if (workspaceToolNames.has(name)) content = await callWorkspaceTool(workspace, name, args, trialDeadline.signal);
          else if (botboard && name.startsWith(mcpPrefix)) {
            content = mcpText(
              (await botboard.client.callTool({ name: name.slice(mcpPrefix.length), arguments: args }, undefined, {
                signal: trialDeadline.signal,
              })) as CallToolResult,
            );
          } else content = `error: no tool ${name}`;
          messages.push({ role: "tool", tool_call_id: call.id, content });
        }
      }
      result.error = `stopped after ${maxTurns} turns`;
      return result;
    } catch (error) {
      // A stop or a timeout keeps the usage of every answer received until then.
      if (signal.aborted) result.interrupted = true;
      else if (trialDeadline.expired()) result.timedOut = true;
      else result.error = (error as Error).message;
      return result;
    } finally {
      trialDeadline.clear();
      await botboard?.client.close().catch(() => {});
    }
  },
};
