import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import { z } from "zod";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { listAgentNames } from "../domain/agents.ts";
import { allScopes } from "../domain/callers.ts";
import { httpStatusOf } from "../domain/errors.ts";
import { appErrorOf, reportUnknownFailure } from "../domain/failures.ts";
import {
  approveAuthorization,
  checkCodeChallenge,
  checkResource,
  exchangeAuthorizationCode,
  mcpResourceOf,
  parseOAuthScope,
  recordDenial,
  refreshAccessToken,
  revokeOAuthConnection,
  type AuthorizationRequest,
} from "../domain/oauth.ts";
import {
  clientRegistrationSchema,
  findOAuthClient,
  OAuthRefusal,
  redirectUriMatches,
  registerOAuthClient,
  type OAuthClient,
} from "../domain/oauth-clients.ts";
import { ErrorPage } from "../../views/layout.tsx";
import { ConsentPage, ReturnToClientPage, type AuthorizationFields } from "../../views/pages/oauth.tsx";
import { describeZodError, limitAgentRequests, refuseRepeatedValues } from "./middleware/agent-requests.ts";
import { reachableUrlOf } from "./middleware/public-url.ts";
import { sameOriginPosts } from "./middleware/same-origin.ts";
import { readUtf8Body } from "./middleware/utf8-json.ts";
import { pageOf, parseWith, requireEngineer, type WebEnv } from "./web/session.ts";
import { readForm } from "./middleware/form-body.ts";

const field = z.string().max(2000, "is over 2000 characters").optional();

const authorizationFieldsSchema = z.object({
  client_id: z.string({ error: "client_id is required" }).max(2000),
  redirect_uri: field,
  response_type: field,
  code_challenge: field,
  code_challenge_method: field,
  state: field,
  scope: field,
  resource: field,
});

const consentSchema = authorizationFieldsSchema.extend({
  decision: z.enum(["approve", "deny"], { error: "decision must be approve or deny" }),
  agent: z.string().max(200).default(""),
  newAgent: z.string().max(200).default(""),
  scopes: z.union([z.string(), z.array(z.string())]).optional(),
});

const tokenRequestSchema = z.object({
  grant_type: z.string({ error: "grant_type is required" }).max(100),
  client_id: z.string({ error: "client_id is required" }).max(2000),
  code: field,
  redirect_uri: field,
  code_verifier: field,
  refresh_token: field,
  resource: field,
  scope: field,
});

/** The door's own answers for a client: `{error, error_description}` (RFC 6749 section 5.2), never cached. */
function oauthErrorResponse(c: Context, caught: unknown): Response {
  c.header("Cache-Control", "no-store");
  if (caught instanceof OAuthRefusal) return c.json({ error: caught.code, error_description: caught.message }, httpStatusOf[caught.kind]);
  const error = appErrorOf(caught);
  if (error)
    return c.json(
      { error: error.kind === "rate_limited" ? "slow_down" : "invalid_request", error_description: error.message },
      httpStatusOf[error.kind],
    );
  return c.json({ error: "server_error", error_description: reportUnknownFailure(caught, { requestId: c.get("requestId") }) }, 500);
}

function htmlErrorResponse(c: Context<WebEnv>, caught: unknown): Response | Promise<Response> {
  const error = appErrorOf(caught);
  // A page shows a bad client as a bad request: invalid_client's 401 is for the token endpoint.
  const status = caught instanceof OAuthRefusal ? 400 : error ? httpStatusOf[error.kind] : 500;
  const message = error ? error.message : reportUnknownFailure(caught, { requestId: c.get("requestId") });
  return c.html(ErrorPage({ status, message, page: c.get("caller") ? pageOf(c) : undefined }), status);
}

/** The client's address with the answer in its query (RFC 6749 section 4.1.2), and the issuer (RFC 9207). */
function clientRedirect(redirectUri: string, answer: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(answer)) if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}

/**
 * OAuth 2.1 for MCP clients that cannot send a header: this server is both the protected resource
 * (/mcp) and its authorization server. An engineer approves a client for an agent identity on the
 * consent page; the client gets agent tokens bound to /mcp. See docs/decisions/027-oauth-for-mcp.md.
 */
export function oauthRoutes(db: Db, config: Config) {
  const routes = new Hono<WebEnv>();
  const engineer = requireEngineer(db, config);
  const clientLookup = { allowLoopbackClientIds: config.oauthLoopbackClientIds };
  const limitByAddress = limitAgentRequests(db, config.rateLimits, () => undefined);

  // Metadata and the token and registration endpoints serve clients in any origin; none uses cookies.
  for (const path of [
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/*",
    "/.well-known/oauth-authorization-server",
    "/oauth/token",
    "/oauth/register",
  ]) {
    routes.use(path, cors({ origin: "*", allowHeaders: ["Content-Type", "Authorization", "MCP-Protocol-Version"] }));
  }
  for (const path of ["/oauth/authorize", "/admin/oauth/*"]) routes.use(path, sameOriginPosts(config));

  const protectedResourceMetadata = (c: Context) => {
    const base = reachableUrlOf(c, config);
    return c.json({
      resource: mcpResourceOf(base),
      authorization_servers: [base],
      scopes_supported: allScopes,
      bearer_methods_supported: ["header"],
      resource_name: "Botboard",
    });
  };
  // RFC 9728 puts the resource's path after the well-known name; some clients ask at the root.
  routes.get("/.well-known/oauth-protected-resource/mcp", protectedResourceMetadata);
  routes.get("/.well-known/oauth-protected-resource", protectedResourceMetadata);

  routes.get("/.well-known/oauth-authorization-server", (c) => {
    const base = reachableUrlOf(c, config);
    return c.json({
      issuer: base,
      authorization_endpoint: `${base}/oauth/authorize`,
      token_endpoint: `${base}/oauth/token`,
      registration_endpoint: `${base}/oauth/register`,
      scopes_supported: allScopes,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["none"],
      client_id_metadata_document_supported: true,
    });
  });

  /** The client and where to send the answer; a failure here is shown, never redirected (the address is not trusted yet). */
  async function clientOf(fields: z.infer<typeof authorizationFieldsSchema>): Promise<{ client: OAuthClient; redirectUri: string }> {
    const client = await findOAuthClient(db, fields.client_id, clientLookup);
    const redirectUri = fields.redirect_uri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
    if (!redirectUri) throw new OAuthRefusal("invalid_request", "redirect_uri is required: this client lists several.");
    if (!client.redirectUris.some((registered) => redirectUriMatches(registered, redirectUri))) {
      throw new OAuthRefusal("invalid_request", `redirect_uri '${redirectUri.slice(0, 200)}' is not one that ${client.name} lists.`);
    }
    return { client, redirectUri };
  }

  function requestOf(
    c: Context,
    fields: z.infer<typeof authorizationFieldsSchema>,
    target: { client: OAuthClient; redirectUri: string },
  ): AuthorizationRequest {
    if (fields.response_type !== "code") throw new OAuthRefusal("unsupported_response_type", "response_type must be code.");
    return {
      ...target,
      codeChallenge: checkCodeChallenge(fields.code_challenge, fields.code_challenge_method),
      resource: checkResource(fields.resource, mcpResourceOf(reachableUrlOf(c, config))),
      scopes: parseOAuthScope(fields.scope),
    };
  }

  /** Refusals after the redirect URI is known go back to the client, as OAuth asks. */
  async function withRedirectedRefusals(
    c: Context<WebEnv>,
    target: { client: OAuthClient; redirectUri: string },
    state: string | undefined,
    run: () => Promise<Response>,
  ) {
    try {
      return await run();
    } catch (caught) {
      if (!(caught instanceof OAuthRefusal)) throw caught;
      const location = clientRedirect(target.redirectUri, {
        error: caught.code,
        error_description: caught.message,
        state,
        iss: reachableUrlOf(c, config),
      });
      return c.redirect(location, 303);
    }
  }

  routes.get("/oauth/authorize", engineer, async (c) => {
    try {
      // OAuth sends each parameter once (RFC 6749 3.1); a second redirect_uri would be a question of which one is meant.
      refuseRepeatedValues(c.req.queries());
      const fields = parseWith(authorizationFieldsSchema, c.req.query());
      const target = await clientOf(fields);
      return await withRedirectedRefusals(c, target, fields.state, async () => {
        const request = requestOf(c, fields, target);
        c.header("Cache-Control", "no-store");
        return c.html(
          ConsentPage({
            page: pageOf(c),
            fields: fields as AuthorizationFields,
            client: request.client,
            redirectUri: request.redirectUri,
            requestedScopes: request.scopes,
            agentNames: await listAgentNames(db, c.get("caller").teamId),
          }),
        );
      });
    } catch (caught) {
      return htmlErrorResponse(c, caught);
    }
  });

  routes.post("/oauth/authorize", engineer, async (c) => {
    try {
      const form = parseWith(consentSchema, await readForm(c));
      const target = await clientOf(form);
      return await withRedirectedRefusals(c, target, form.state, async () => {
        const request = requestOf(c, form, target);
        const caller = c.get("caller");
        const iss = reachableUrlOf(c, config);
        let location: string;
        if (form.decision === "deny") {
          await recordDenial(db, caller, request);
          location = clientRedirect(request.redirectUri, {
            error: "access_denied",
            error_description: "An engineer refused the request.",
            state: form.state,
            iss,
          });
        } else {
          const agentName = form.agent || form.newAgent;
          const scopes = form.scopes === undefined ? [] : [form.scopes].flat();
          const code = await approveAuthorization(db, caller, request, { agentName, scopes });
          location = clientRedirect(request.redirectUri, { code, state: form.state, iss });
        }
        // A Refresh, not a redirect: the page's form-action CSP allows only this server, and a client may use its own scheme.
        c.header("Cache-Control", "no-store");
        c.header("Refresh", `0; url=${location}`);
        return c.html(
          ReturnToClientPage({ page: pageOf(c), clientName: request.client.name, approved: form.decision === "approve", location }),
        );
      });
    } catch (caught) {
      return htmlErrorResponse(c, caught);
    }
  });

  routes.post("/oauth/token", limitByAddress, async (c) => {
    try {
      const input = parseWith(tokenRequestSchema, await readForm(c));
      const resource = mcpResourceOf(reachableUrlOf(c, config));
      c.header("Cache-Control", "no-store");
      if (input.grant_type === "authorization_code") {
        if (!input.code || !input.redirect_uri || !input.code_verifier) {
          throw new OAuthRefusal("invalid_request", "code, redirect_uri and code_verifier are required.");
        }
        const tokens = await exchangeAuthorizationCode(
          db,
          {
            code: input.code,
            clientId: input.client_id,
            redirectUri: input.redirect_uri,
            codeVerifier: input.code_verifier,
            resource: input.resource,
          },
          resource,
        );
        return c.json(tokens);
      }
      if (input.grant_type === "refresh_token") {
        if (!input.refresh_token) throw new OAuthRefusal("invalid_request", "refresh_token is required.");
        const tokens = await refreshAccessToken(
          db,
          { refreshToken: input.refresh_token, clientId: input.client_id, resource: input.resource, scope: input.scope },
          resource,
        );
        return c.json(tokens);
      }
      throw new OAuthRefusal("unsupported_grant_type", "grant_type must be authorization_code or refresh_token.");
    } catch (caught) {
      return oauthErrorResponse(c, caught);
    }
  });

  routes.post("/oauth/register", limitByAddress, async (c) => {
    try {
      const text = await readUtf8Body(c);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new OAuthRefusal("invalid_client_metadata", "The body must be a JSON object.");
      }
      const parsed = clientRegistrationSchema.safeParse(body);
      if (!parsed.success) throw new OAuthRefusal("invalid_client_metadata", describeZodError(parsed.error));
      const client = await registerOAuthClient(db, parsed.data);
      return c.json(
        {
          client_id: client.clientId,
          client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
          client_name: client.name,
          redirect_uris: client.redirectUris,
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
        },
        201,
      );
    } catch (caught) {
      return oauthErrorResponse(c, caught);
    }
  });

  routes.post("/admin/oauth/revoke", engineer, async (c) => {
    try {
      const caller = c.get("caller");
      const { connection } = parseWith(z.object({ connection: z.uuid({ error: "connection must be an id" }) }), await readForm(c));
      await revokeOAuthConnection(db, caller, caller.teamId, connection);
      return c.redirect("/admin#oauth-connections", 303);
    } catch (caught) {
      return htmlErrorResponse(c, caught);
    }
  });

  return routes;
}
