import {
  CallToolRequestParamsSchema,
  ErrorCode,
  isJSONRPCRequest,
  type JSONRPCErrorResponse,
  type JSONRPCRequest,
} from "@modelcontextprotocol/sdk/types.js";

export const isToolCall = (message: unknown): message is JSONRPCRequest => isJSONRPCRequest(message) && message.method === "tools/call";

function kindOf(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/**
 * What is wrong with a tools/call's params, in one line; undefined when they are well formed. The
 * spec's `arguments` is an object or absent (null is neither); the SDK answers any other with an
 * internal error whose message is zod's issue list as JSON.
 */
function paramsProblemOf(params: unknown): string | undefined {
  const parsed = CallToolRequestParamsSchema.safeParse(params);
  if (parsed.success) return undefined;
  const [issue] = parsed.error.issues;
  const field = issue?.path.join(".") ?? "";
  const given = params as { name?: unknown; arguments?: unknown } | undefined;
  if (field === "") return "A tools/call needs params: the tool's name and its arguments.";
  if (field === "name") return `params.name must be the tool's name, a string; it was ${kindOf(given?.name)}.`;
  if (field === "arguments")
    return `params.arguments must be an object of the tool's arguments, or left out; it was ${kindOf(given?.arguments)}.`;
  return `params.${field}: ${issue?.message}`;
}

/** The answer to a tools/call whose params are malformed: a one-line invalid-params error; undefined for a well-formed call. */
export function malformedToolCallAnswer(call: JSONRPCRequest): JSONRPCErrorResponse | undefined {
  const problem = paramsProblemOf(call.params);
  return problem === undefined ? undefined : invalidParams(call, problem);
}

export function invalidParams(call: JSONRPCRequest, message: string): JSONRPCErrorResponse {
  return { jsonrpc: "2.0", id: call.id, error: { code: ErrorCode.InvalidParams, message } };
}
