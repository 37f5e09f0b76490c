import {
  CallToolRequestParamsSchema,
  ErrorCode,
  InitializeRequestSchema,
  isJSONRPCRequest,
  JSONRPCMessageSchema,
  type JSONRPCErrorResponse,
  type JSONRPCRequest,
  ListToolsRequestSchema,
  PingRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { ZodType } from "zod";
import { unknownKeysMessage } from "../server/http/middleware/agent-requests.ts";

/**
 * Messages this server answers itself, in one line, before the SDK sees them. The SDK answers a
 * message that is not JSON-RPC with a parse error (-32700, for a body that is JSON), and a request
 * whose params its schema refuses with an internal error (-32603) whose message is zod's issue
 * list as JSON; JSON-RPC asks for -32600 and -32602.
 */

export const isToolCall = (message: unknown): message is JSONRPCRequest => isJSONRPCRequest(message) && message.method === "tools/call";

function kindOf(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** An id's kind says why a number is not one. */
function idKindOf(id: unknown): string {
  if (typeof id !== "number") return kindOf(id);
  return Number.isInteger(id) ? "a number beyond the safe integers" : "a number with a fraction";
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isRequestId = (id: unknown) => typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id));
const requestMembers = new Set(["jsonrpc", "id", "method", "params"]);

/** What keeps a message from being a JSON-RPC 2.0 request, notification or response, in one line. */
function envelopeProblemOf(message: unknown): string {
  if (!isPlainObject(message)) return `a JSON-RPC message is an object; this one is ${kindOf(message)}.`;
  if (message.jsonrpc !== "2.0") {
    const given = typeof message.jsonrpc === "string" ? JSON.stringify(message.jsonrpc.slice(0, 20)) : kindOf(message.jsonrpc);
    return `"jsonrpc" must be "2.0"; it is ${given}.`;
  }
  if (!("method" in message)) return `a message needs a "method" (a request or notification), or a "result" or "error" (a response).`;
  if (typeof message.method !== "string") return `"method" must be a string; it is ${kindOf(message.method)}.`;
  if ("id" in message && !isRequestId(message.id)) return `"id" must be a string or an integer; it is ${idKindOf(message.id)}.`;
  if ("params" in message && !isPlainObject(message.params)) return `"params" must be an object; it is ${kindOf(message.params)}.`;
  const unknown = Object.keys(message).filter((member) => !requestMembers.has(member));
  if (unknown.length > 0) return `unknown member "${unknown[0]!.slice(0, 100)}"; a request has jsonrpc, id, method and params.`;
  return `${message.method.slice(0, 100)} is not a well-formed request.`;
}

/** JSON-RPC's error answer, whose id is null when the request's id cannot be read (the SDK's type has no null). */
export type InvalidRequestAnswer = { jsonrpc: "2.0"; id: string | number | null; error: { code: number; message: string } };

/** The answer to a message that is not JSON-RPC; undefined for one that is. Its id is echoed when it is an id. */
export function invalidMessageAnswer(message: unknown): InvalidRequestAnswer | undefined {
  if (JSONRPCMessageSchema.safeParse(message).success) return undefined;
  const id = isPlainObject(message) && isRequestId(message.id) ? (message.id as string | number) : null;
  return { jsonrpc: "2.0", id, error: { code: ErrorCode.InvalidRequest, message: `Invalid Request: ${envelopeProblemOf(message)}` } };
}

/**
 * What is wrong with a tools/call's params, in one line; undefined when they are well formed. The
 * spec's `arguments` is an object or absent (null is neither).
 */
function toolCallProblemOf(params: unknown): string | undefined {
  const parsed = CallToolRequestParamsSchema.safeParse(params);
  if (parsed.success) {
    // The SDK copies the arguments key by key, and a `__proto__` key so copied is gone before the
    // tool's check of unknown arguments could name it.
    const given = (params as { arguments?: object }).arguments;
    return given && Object.hasOwn(given, "__proto__") ? unknownKeysMessage(["__proto__"], "argument") : undefined;
  }
  const [issue] = parsed.error.issues;
  const field = issue?.path.join(".") ?? "";
  const given = params as { name?: unknown; arguments?: unknown } | undefined;
  if (field === "") return "A tools/call needs params: the tool's name and its arguments.";
  if (field === "name") return `params.name must be the tool's name, a string; it was ${kindOf(given?.name)}.`;
  if (field === "arguments")
    return `params.arguments must be an object of the tool's arguments, or left out; it was ${kindOf(given?.arguments)}.`;
  return `params.${field}: ${issue?.message}`;
}

/** The other requests the server answers, by the schema the SDK checks them with. */
const requestSchemas: Record<string, ZodType> = {
  initialize: InitializeRequestSchema,
  ping: PingRequestSchema,
  "tools/list": ListToolsRequestSchema,
};

function valueAt(message: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((value, key) => (isPlainObject(value) ? value[key as string] : undefined), message);
}

/** The first issues the request's schema finds, each in a sentence: the field, what it must be, what it was. */
function requestProblemOf(request: JSONRPCRequest): string | undefined {
  const schema = requestSchemas[request.method];
  const parsed = schema?.safeParse(request);
  if (!parsed || parsed.success) return undefined;
  return parsed.error.issues
    .slice(0, 3)
    .map((issue) => {
      const field = issue.path.join(".");
      if (issue.code === "invalid_type")
        return `${field} must be a${/^[aeiou]/.test(issue.expected) ? "n" : ""} ${issue.expected}; it was ${kindOf(valueAt(request, issue.path))}.`;
      return `${field}: ${issue.message}.`;
    })
    .join(" ");
}

/** The answer to a request whose params are malformed: a one-line invalid-params error; undefined for a well-formed one. */
export function malformedRequestAnswer(request: JSONRPCRequest): JSONRPCErrorResponse | undefined {
  const problem = request.method === "tools/call" ? toolCallProblemOf(request.params) : requestProblemOf(request);
  return problem === undefined ? undefined : invalidParams(request, problem);
}

export function invalidParams(call: JSONRPCRequest, message: string): JSONRPCErrorResponse {
  return { jsonrpc: "2.0", id: call.id, error: { code: ErrorCode.InvalidParams, message } };
}
