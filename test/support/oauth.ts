import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";

/**
 * The web side of an OAuth client, as Claude Desktop or VS Code has one: its Client ID Metadata
 * Document at /client.json and the page the browser comes back to at /callback. `document` may be
 * replaced to serve another body (too large, another client_id).
 */
export type ClientSite = {
  url: string;
  clientId: string;
  redirectUri: string;
  document: string;
  /** Requests for the metadata document so far. */
  documentFetches: number;
  close(): Promise<void>;
};

export async function startClientSite(clientName: string): Promise<ClientSite> {
  const site = { documentFetches: 0 } as ClientSite;
  const server: Server = createServer((request, response) => {
    if (request.url === "/client.json") {
      site.documentFetches += 1;
      response.writeHead(200, { "content-type": "application/json" }).end(site.document);
    } else if (request.url?.startsWith("/callback")) {
      response.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>Back in the client</title><p>Done.</p>");
    } else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  site.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  site.clientId = `${site.url}/client.json`;
  site.redirectUri = `${site.url}/callback`;
  site.document = JSON.stringify({
    client_id: site.clientId,
    client_name: clientName,
    redirect_uris: [site.redirectUri],
    token_endpoint_auth_method: "none",
  });
  site.close = () => new Promise((resolve) => server.close(() => resolve()));
  return site;
}

/**
 * The SDK's OAuthClientProvider as an MCP client implements it, with the browser step left to the
 * test: `authorizationUrl` is where the client would open the user's browser. With `clientId` it
 * presents a metadata document URL as its client_id; without, it registers dynamically.
 */
export class ScriptedOAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  savedTokens: OAuthTokens | undefined;
  private information: OAuthClientInformationMixed | undefined;
  private verifier = "";

  constructor(
    readonly redirectUrl: string,
    private readonly name: string,
    clientId?: string,
  ) {
    this.information = clientId ? { client_id: clientId } : undefined;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    };
  }
  clientInformation() {
    return this.information;
  }
  saveClientInformation(information: OAuthClientInformationMixed) {
    this.information = information;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}
