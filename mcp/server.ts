import { McpServer, type RegisteredTool, type ToolCallback } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { AnySchema, ZodRawShapeCompat } from "@modelcontextprotocol/sdk/server/zod-compat.js";
import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import type { Team } from "../server/domain/teams.ts";
import type { ToolContext } from "./context.ts";
import { registerClaimTools } from "./claim-tools.ts";
import { registerFeedTools } from "./feed-tools.ts";
import { registerJournalTools } from "./journal-tools.ts";

export const serverInfo = { name: "botboard", version: "0.1.0" };

/** Every tool's name, once; the benchmark's prompts name the tools in this order. */
export const feedToolNames = ["read_new", "read_posts", "search_posts", "get_thread", "create_post", "login"] as const;
export const journalToolNames = ["process_thoughts", "search_journal", "read_journal_entry", "list_recent_entries"] as const;
/** Coordination: claims on paths and statuses. */
export const claimToolNames = ["claim", "release", "renew", "list_claims", "set_status"] as const;
export const toolNames = [...feedToolNames, ...claimToolNames, ...journalToolNames] as const;
export type ToolName = (typeof toolNames)[number];

/** The tools that read what others (or the agent itself) wrote: what the benchmark counts as reads. */
export const readToolNames: ReadonlySet<string> = new Set(
  toolNames.filter((name) => !["create_post", "login", "process_thoughts", "claim", "release", "renew", "set_status"].includes(name)),
);

/**
 * Which tool groups one MCP endpoint offers: `/mcp?tools=social` only the feed, `?tools=journal`
 * only the private journal, `?tools=claims` claims and statuses, all three by default. The
 * benchmark compares agents given the study's groups (social, journal), so claims stay out of them.
 */
export type ToolSet = { social: boolean; journal: boolean; claims: boolean };
export const allTools: ToolSet = { social: true, journal: true, claims: true };
const toolGroups = ["social", "journal", "claims"] as const;

export function toolNamesOf(toolSet: ToolSet): readonly string[] {
  return [
    ...(toolSet.social ? feedToolNames : []),
    ...(toolSet.claims ? claimToolNames : []),
    ...(toolSet.journal ? journalToolNames : []),
  ];
}

/** Parses the `tools` query value: a comma list of social, journal, claims, all; undefined when it names something else. */
export function parseToolSet(value: string | undefined): ToolSet | undefined {
  if (value === undefined || value === "") return allTools;
  const groups = value.split(",").map((group) => group.trim());
  if (groups.some((group) => group !== "all" && !(toolGroups as readonly string[]).includes(group))) return undefined;
  if (groups.includes("all")) return allTools;
  return { social: groups.includes("social"), journal: groups.includes("journal"), claims: groups.includes("claims") };
}

/**
 * The SDK builds an Ajv instance per server unless given one; it only validates elicitation answers,
 * which Botboard never asks for, and building it per request cost more than the tool call itself.
 */
const sharedSchemaValidator = new AjvJsonSchemaValidator();

/**
 * The server for a request of nothing but tool calls. It never answers `tools/list`, where output
 * schemas are for, so it registers its tools without them and the SDK does not check each answer
 * against the schema it was written to (a seventh of a `read_posts` call's CPU). The answers are the
 * same; a client that reads `structuredContent` checks it against the schema `tools/list` gave it,
 * as the SDK's client does in the tests.
 */
class ToolCallsServer extends McpServer {
  override registerTool<
    OutputArgs extends ZodRawShapeCompat | AnySchema,
    InputArgs extends undefined | ZodRawShapeCompat | AnySchema = undefined,
  >(
    name: string,
    config: {
      title?: string;
      description?: string;
      inputSchema?: InputArgs;
      outputSchema?: OutputArgs;
      annotations?: ToolAnnotations;
      _meta?: Record<string, unknown>;
    },
    callback: ToolCallback<InputArgs>,
  ): RegisteredTool {
    return super.registerTool(name, { ...config, outputSchema: undefined }, callback);
  }
}

/**
 * One MCP server for one request: the tool groups asked for (feed, journal, claims). The team's
 * instructions are only sent in answer to `initialize`; other requests load the team only if a tool
 * needs it. `calledTools`: a request that only calls tools gets only those registered, because
 * registering all fifteen cost more than answering most calls.
 */
export function createBotboardServer(
  context: ToolContext,
  loadTeam: () => Promise<Team>,
  instructions?: string,
  toolSet: ToolSet = allTools,
  calledTools?: ReadonlySet<string>,
): McpServer {
  const server = new (calledTools === undefined ? McpServer : ToolCallsServer)(serverInfo, {
    instructions,
    capabilities: { tools: {} },
    jsonSchemaValidator: sharedSchemaValidator,
  });
  const offers = (name: string) => calledTools === undefined || calledTools.has(name);
  if (toolSet.social) registerFeedTools(server, context, loadTeam, { withClaims: toolSet.claims, offers });
  if (toolSet.claims) registerClaimTools(server, context, offers);
  if (toolSet.journal) registerJournalTools(server, context, offers);
  return server;
}
