import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { oauthClients } from "../db/schema/index.ts";
import { AppError } from "./errors.ts";
import { generateSecret } from "./tokens.ts";
import { misleadingLabelProblem } from "./untrusted-text.ts";

/** The error codes of RFC 6749 and RFC 8707 that a token, registration or authorization answer may name. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "invalid_scope"
  | "invalid_target"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "access_denied";

/** A refusal in OAuth's own words: the doors answer `{error, error_description}` (or redirect with them). */
export class OAuthRefusal extends AppError {
  constructor(
    readonly code: OAuthErrorCode,
    message: string,
  ) {
    super(code === "invalid_client" ? "unauthorized" : "invalid", message);
  }
}

export type OAuthClient = { clientId: string; name: string; redirectUris: string[]; kind: "metadata_document" | "registered" };

export type ClientLookupOptions = {
  /** Accept http://127.0.0.1 and http://localhost metadata documents (tests and local development only). */
  allowLoopbackClientIds: boolean;
};

export const registeredClientPrefix = "bbc_";
/** A metadata document is a few hundred bytes; this bounds what a hostile URL can make the server read. */
export const maxClientMetadataBytes = 16 * 1024;
export const clientMetadataTimeoutMs = 5000;
const maxRedirectUris = 10;
const maxClientNameChars = 100;

const loopbackHostnames = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A client's name and addresses are what the engineer approving it reads: each must show as sent. */
function requireShownAsSent(field: string, text: string, code: OAuthErrorCode): string {
  const problem = misleadingLabelProblem(text);
  if (problem) throw new OAuthRefusal(code, `${field} ${problem}; remove it.`);
  return text;
}

/**
 * Where an authorization code may be sent: https anywhere, http only to this machine (a native app's
 * loopback listener, RFC 8252), or an app's own scheme with a dot (com.example.app:/callback).
 * Never javascript:, data: or a plain http site, and never a user name or password before the host.
 */
export function checkRedirectUri(value: string): string {
  requireShownAsSent("redirect_uri", value, "invalid_redirect_uri");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OAuthRefusal("invalid_redirect_uri", `redirect_uri '${value.slice(0, 200)}' is not an absolute URL.`);
  }
  if (url.hash) throw new OAuthRefusal("invalid_redirect_uri", "A redirect_uri must not have a #fragment.");
  // https://good.example@evil.example/cb goes to evil.example, but reads as good.example.
  if (url.username || url.password) {
    throw new OAuthRefusal(
      "invalid_redirect_uri",
      `A redirect_uri must not have a user name or password before its host (the part before '@'): '${value.slice(0, 200)}'.`,
    );
  }
  const scheme = url.protocol.slice(0, -1);
  const allowed =
    scheme === "https" || (scheme === "http" && loopbackHostnames.has(url.hostname)) || /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme);
  if (!allowed) {
    throw new OAuthRefusal(
      "invalid_redirect_uri",
      `redirect_uri must be https, http on 127.0.0.1 or localhost, or an app's own scheme: '${value.slice(0, 200)}'.`,
    );
  }
  return value;
}

/** Exact match, except that a loopback http redirect may use any port (RFC 8252 section 7.3). */
export function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  const [a, b] = [URL.parse(registered), URL.parse(requested)];
  if (!a || !b || a.protocol !== "http:" || !loopbackHostnames.has(a.hostname)) return false;
  return a.hostname === b.hostname && a.protocol === b.protocol && a.pathname === b.pathname && a.search === b.search;
}

const redirectUrisSchema = z
  .array(z.string().max(2000), { error: "redirect_uris must be a list of URLs" })
  .min(1, "redirect_uris needs at least one URL")
  .max(maxRedirectUris, `redirect_uris may list at most ${maxRedirectUris} URLs`);

const clientMetadataDocumentSchema = z.object({
  client_id: z.string(),
  client_name: z.string().max(maxClientNameChars).optional(),
  redirect_uris: redirectUrisSchema,
  token_endpoint_auth_method: z.string().optional(),
});

/**
 * Addresses a client's metadata document may not be fetched from: this machine, private and shared
 * networks, link-local, multicast and reserved ranges. An IPv4 range also holds the same address
 * written as IPv6 (`::ffff:127.0.0.1`, which URL parsing turns into `::ffff:7f00:1`), and NAT64 and
 * 6to4 addresses are refused whole, as they can carry any IPv4 address.
 */
const privateAddresses = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["224.0.0.0", 3],
] as const) {
  privateAddresses.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 96],
  ["64:ff9b::", 96],
  ["2002::", 16],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  privateAddresses.addSubnet(network, prefix, "ipv6");
}

function isPrivateAddress(address: string): boolean {
  return privateAddresses.check(address, isIP(address) === 4 ? "ipv4" : "ipv6");
}

/** A metadata document URL must be https with a path; loopback http only when the setting allows it. */
function checkMetadataUrl(clientId: string, options: ClientLookupOptions): URL {
  const url = URL.parse(requireShownAsSent("client_id", clientId, "invalid_client"));
  const loopback = url?.protocol === "http:" && loopbackHostnames.has(url.hostname) && options.allowLoopbackClientIds;
  if (!url || (url.protocol !== "https:" && !loopback) || url.pathname === "/" || url.hash || url.username || url.password) {
    throw new OAuthRefusal(
      "invalid_client",
      "client_id must be an https URL with a path (a client ID metadata document) or a registered client's id.",
    );
  }
  return url;
}

/**
 * Refuses a document whose host resolves to this machine or a private network, so a client_id
 * cannot make the server probe its neighbours (SSRF). A name that resolves differently a moment
 * later can still slip through; SECURITY.md says so.
 */
async function checkPublicHost(url: URL, options: ClientLookupOptions): Promise<void> {
  if (options.allowLoopbackClientIds && loopbackHostnames.has(url.hostname)) return;
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const addresses = isIP(hostname) ? [hostname] : (await lookup(hostname, { all: true }).catch(() => [])).map((entry) => entry.address);
  if (addresses.length === 0) throw new OAuthRefusal("invalid_client", `The client's host ${url.hostname} does not resolve.`);
  if (addresses.some(isPrivateAddress)) {
    throw new OAuthRefusal(
      "invalid_client",
      `The client's host ${url.hostname} is a private or local address; Botboard does not fetch from there.`,
    );
  }
}

async function readBounded(response: Response, maxBytes: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new OAuthRefusal("invalid_client", `The client's metadata document is over ${maxBytes} bytes.`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Fetches and checks a Client ID Metadata Document: no redirects, a time limit and a size limit. */
async function fetchClientMetadata(clientId: string, options: ClientLookupOptions): Promise<OAuthClient> {
  const url = checkMetadataUrl(clientId, options);
  await checkPublicHost(url, options);
  let response: Response;
  try {
    response = await fetch(url, {
      redirect: "error",
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(clientMetadataTimeoutMs),
    });
  } catch {
    throw new OAuthRefusal(
      "invalid_client",
      `The client's metadata document at ${url.href} could not be fetched (unreachable, redirected or over ${clientMetadataTimeoutMs / 1000} s).`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new OAuthRefusal("invalid_client", `The client's metadata document at ${url.href} answered HTTP ${response.status}.`);
  }
  const text = await readBounded(response, maxClientMetadataBytes);
  let parsed: z.ZodSafeParseResult<z.infer<typeof clientMetadataDocumentSchema>>;
  try {
    parsed = clientMetadataDocumentSchema.safeParse(JSON.parse(text));
  } catch {
    throw new OAuthRefusal("invalid_client", "The client's metadata document is not JSON.");
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OAuthRefusal("invalid_client", `The client's metadata document: ${issue.path.join(".")}: ${issue.message}.`);
  }
  const document = parsed.data;
  if (document.client_id !== clientId)
    throw new OAuthRefusal("invalid_client", "The metadata document's client_id is not the URL it was fetched from.");
  if (document.token_endpoint_auth_method && document.token_endpoint_auth_method !== "none") {
    throw new OAuthRefusal("invalid_client", "Botboard accepts public clients only (token_endpoint_auth_method 'none').");
  }
  return {
    clientId,
    name:
      document.client_name === undefined
        ? url.hostname
        : requireShownAsSent("client_name in the client's metadata document", document.client_name, "invalid_client"),
    redirectUris: document.redirect_uris.map(checkRedirectUri),
    kind: "metadata_document",
  };
}

/** A client by its id: a metadata document URL (fetched now, never cached) or a client that registered. */
export async function findOAuthClient(db: Db, clientId: string, options: ClientLookupOptions): Promise<OAuthClient> {
  if (clientId.startsWith(registeredClientPrefix)) {
    const [client] = await db
      .select()
      .from(oauthClients)
      .where(eq(oauthClients.clientId, clientId.slice(0, 200)));
    if (!client) throw new OAuthRefusal("invalid_client", "No registered client with this client_id.");
    return { clientId: client.clientId, name: client.name, redirectUris: client.redirectUris, kind: "registered" };
  }
  return fetchClientMetadata(clientId, options);
}

export const clientRegistrationSchema = z.object({
  redirect_uris: redirectUrisSchema,
  client_name: z.string().max(maxClientNameChars, `client_name is over ${maxClientNameChars} characters`).optional(),
  token_endpoint_auth_method: z.string().optional(),
  grant_types: z.array(z.string()).optional(),
  response_types: z.array(z.string()).optional(),
});

/** Dynamic client registration (RFC 7591) for clients without a metadata document: public clients only. */
export async function registerOAuthClient(db: Db, input: z.infer<typeof clientRegistrationSchema>) {
  if (input.token_endpoint_auth_method && input.token_endpoint_auth_method !== "none") {
    throw new OAuthRefusal(
      "invalid_client_metadata",
      "Botboard registers public clients only: token_endpoint_auth_method must be 'none' (PKCE protects the code).",
    );
  }
  const unsupportedGrant = input.grant_types?.find((grant) => grant !== "authorization_code" && grant !== "refresh_token");
  if (unsupportedGrant)
    throw new OAuthRefusal("invalid_client_metadata", `grant_types: '${unsupportedGrant.slice(0, 50)}' is not supported.`);
  if (input.response_types?.some((type) => type !== "code"))
    throw new OAuthRefusal("invalid_client_metadata", "response_types: only 'code' is supported.");
  const redirectUris = input.redirect_uris.map(checkRedirectUri);
  if (input.client_name !== undefined) requireShownAsSent("client_name", input.client_name, "invalid_client_metadata");
  const [client] = await db
    .insert(oauthClients)
    .values({ clientId: registeredClientPrefix + generateSecret().slice(0, 26), name: input.client_name || "Unnamed client", redirectUris })
    .returning();
  return client!;
}
