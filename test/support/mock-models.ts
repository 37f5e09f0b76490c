import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { text as readBody } from "node:stream/consumers";

/**
 * A scripted model server for running real coding-agent CLIs offline. It speaks just enough of the
 * Anthropic Messages API (Claude Code) and the OpenAI Responses API (Codex): whenever a request
 * offers the Botboard tools, it answers with the next scripted tool call, then with a final text.
 * Requests that offer no Botboard tool (titles, quota checks) get a short text answer.
 */

export type ScriptedCall = { tool: string; input: Record<string, unknown> };
/** One answer of the script: a tool call, or (Anthropic only) several in one message. */
export type ScriptedStep = ScriptedCall | ScriptedCall[];
export type MockModelOptions = { hangFromStep?: number };

export type MockModelServer = {
  url: string;
  /** Every request body the agent sent that offered the Botboard tools, in order. */
  toolRequests: unknown[];
  close(): Promise<void>;
};

type AnthropicTool = { name: string };
type AnthropicMessage = { role: string; content: string | { type: string; tool_use_id?: string }[] };

function sse(response: ServerResponse, events: { event: string; data: unknown }[]): void {
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const { event, data } of events) response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  response.end();
}

/** Which step of the script a conversation is at: how many messages of tool results it already holds. */
function anthropicStep(messages: AnthropicMessage[]): number {
  return messages.filter((message) => Array.isArray(message.content) && message.content.some((part) => part.type === "tool_result")).length;
}

function anthropicReply(
  response: ServerResponse,
  body: { tools?: AnthropicTool[]; messages: AnthropicMessage[]; model: string },
  script: ScriptedStep[],
  finalText: string,
  record: (body: unknown) => void,
) {
  const tools = body.tools ?? [];
  const step = anthropicStep(body.messages);
  const offersBotboard = tools.some((tool) => tool.name.endsWith("create_post"));
  if (offersBotboard) record(body);
  const scripted = offersBotboard ? script[step] : undefined;
  const calls = (scripted === undefined ? [] : Array.isArray(scripted) ? scripted : [scripted]).flatMap((call) => {
    const name = tools.find((tool) => tool.name.endsWith(`__${call.tool}`))?.name;
    return name ? [{ name, input: call.input }] : [];
  });
  const blocks =
    calls.length > 0
      ? calls.map((call, index) => ({
          block: { type: "tool_use", id: `toolu_${step}_${index}`, name: call.name, input: {} },
          delta: { type: "input_json_delta", partial_json: JSON.stringify(call.input) },
        }))
      : [{ block: { type: "text", text: "" }, delta: { type: "text_delta", text: tools.length > 0 ? finalText : "Botboard" } }];
  const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  sse(response, [
    {
      event: "message_start",
      data: {
        type: "message_start",
        message: {
          id: `msg_${Date.now()}_${step}`,
          type: "message",
          role: "assistant",
          model: body.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      },
    },
    ...blocks.flatMap(({ block, delta }, index) => [
      { event: "content_block_start", data: { type: "content_block_start", index, content_block: block } },
      { event: "content_block_delta", data: { type: "content_block_delta", index, delta } },
      { event: "content_block_stop", data: { type: "content_block_stop", index } },
    ]),
    {
      event: "message_delta",
      data: {
        type: "message_delta",
        delta: { stop_reason: calls.length > 0 ? "tool_use" : "end_turn", stop_sequence: null },
        usage: { output_tokens: 5 },
      },
    },
    { event: "message_stop", data: { type: "message_stop" } },
  ]);
}

type ResponsesTool = { type: string; name?: string; tools?: ResponsesTool[] };

/** Codex offers MCP tools as a namespace (`mcp__botboard`) holding the server's tools by their own names. */
function findResponsesTool(tools: ResponsesTool[], wanted: string): { name: string; namespace?: string } | undefined {
  for (const tool of tools) {
    if (tool.type === "function" && tool.name?.endsWith(wanted)) return { name: tool.name };
    const nested = tool.type === "namespace" ? tool.tools?.find((inner) => inner.name === wanted) : undefined;
    if (nested) return { name: nested.name!, namespace: tool.name };
  }
  return undefined;
}
type ResponsesItem = { type: string; call_id?: string };

function responsesReply(
  response: ServerResponse,
  body: { tools?: ResponsesTool[]; input: ResponsesItem[] | string; model: string },
  script: ScriptedStep[],
  finalText: string,
  record: (body: unknown) => void,
) {
  const tools = body.tools ?? [];
  const offersBotboard = findResponsesTool(tools, "create_post") !== undefined;
  if (offersBotboard) record(body);
  const items = Array.isArray(body.input) ? body.input : [];
  const step = items.filter((item) => item.type === "function_call_output").length;
  const scripted = offersBotboard ? script[step] : undefined;
  const next = Array.isArray(scripted) ? scripted[0] : scripted;
  const tool = next && findResponsesTool(tools, next.tool);
  const id = `resp_${Date.now()}_${step}`;
  const item = tool
    ? {
        type: "function_call",
        id: `fc_${step}`,
        call_id: `call_${step}`,
        ...tool,
        arguments: JSON.stringify(next!.input),
        status: "completed",
      }
    : {
        type: "message",
        id: `msg_${step}`,
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: finalText, annotations: [] }],
      };
  const usage = {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 15,
  };
  sse(response, [
    {
      event: "response.created",
      data: { type: "response.created", response: { id, object: "response", status: "in_progress", model: body.model, output: [] } },
    },
    { event: "response.output_item.added", data: { type: "response.output_item.added", output_index: 0, item } },
    { event: "response.output_item.done", data: { type: "response.output_item.done", output_index: 0, item } },
    {
      event: "response.completed",
      data: {
        type: "response.completed",
        response: { id, object: "response", status: "completed", model: body.model, output: [item], usage },
      },
    },
  ]);
}

/**
 * `hangFromStep`: from that step of a conversation offering Botboard's tools on, the request is never
 * answered (a model that hangs), so an agent's timeout or a stop cuts it off mid-run.
 */
export async function startMockModelServer(
  script: ScriptedStep[],
  finalText: string,
  options: MockModelOptions = {},
): Promise<MockModelServer> {
  const toolRequests: unknown[] = [];
  const record = (body: unknown) => toolRequests.push(body);
  const hangs = (body: { messages?: AnthropicMessage[]; input?: ResponsesItem[] | string; tools?: unknown[] }) => {
    if (options.hangFromStep === undefined || !JSON.stringify(body.tools ?? []).includes("create_post")) return false;
    const step = body.messages
      ? anthropicStep(body.messages)
      : (Array.isArray(body.input) ? body.input : []).filter((item) => item.type === "function_call_output").length;
    return step >= options.hangFromStep;
  };
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://mock").pathname;
    const text = await readBody(request);
    const body = text ? JSON.parse(text) : {};
    if (request.method === "POST" && hangs(body)) return record(body);
    if (request.method === "POST" && path.endsWith("/messages")) return anthropicReply(response, body, script, finalText, record);
    if (request.method === "POST" && path.endsWith("/responses")) return responsesReply(response, body, script, finalText, record);
    if (path.endsWith("/models"))
      return void response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [], models: [] }));
    response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `mock has no ${path}` } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    toolRequests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
