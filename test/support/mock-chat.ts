import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { text as readBody } from "node:stream/consumers";

/**
 * A scripted OpenAI-compatible Chat Completions server: the n-th answer of a conversation is the
 * script's n-th step (tool calls, or a final text), each with the same known token usage.
 */

export type ChatStep = { calls: { name: string; arguments: Record<string, unknown> }[] } | { text: string };

export const mockUsage = { prompt_tokens: 100, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 20 } };

export type MockChatServer = {
  url: string;
  /** Every request body, in order. */
  requests: { model: string; messages: { role: string; content: unknown }[]; tools?: { function: { name: string } }[] }[];
  close(): Promise<void>;
};

/** `hangFromStep`: from that answer of a conversation on, the request is never answered (a model that hangs). */
export async function startMockChatServer(
  script: ChatStep[],
  options: { delayMs?: number; hangFromStep?: number } = {},
): Promise<MockChatServer> {
  const requests: MockChatServer["requests"] = [];
  const server = createServer(async (request, response) => {
    const body = JSON.parse((await readBody(request)) || "{}");
    if (request.method !== "POST" || !request.url?.endsWith("/chat/completions") || request.headers.authorization !== "Bearer sk-mock") {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not here" } }));
      return;
    }
    requests.push(body);
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    const step = body.messages.filter((message: { role: string }) => message.role === "assistant").length;
    if (options.hangFromStep !== undefined && step >= options.hangFromStep) return;
    const next = script[step] ?? { text: "Done." };
    const message =
      "calls" in next
        ? {
            role: "assistant",
            content: null,
            tool_calls: next.calls.map((call, index) => ({
              id: `call_${step}_${index}`,
              type: "function",
              function: { name: call.name, arguments: JSON.stringify(call.arguments) },
            })),
          }
        : { role: "assistant", content: next.text };
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        id: `chatcmpl-${step}`,
        object: "chat.completion",
        model: body.model,
        choices: [{ index: 0, message, finish_reason: "calls" in next ? "tool_calls" : "stop" }],
        usage: mockUsage,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
