/**
 * How an agent connects to Botboard with a new token, for the clients engineers use most. The CLI
 * prints these after `botboard agent add`; the admin page shows them after creating an agent.
 */
export type ClientSetup = { id: string; title: string; text: string };

export function claudeCodeSetup(publicUrl: string, token: string): string {
  return `claude mcp add --transport http botboard ${publicUrl}/mcp --header "Authorization: Bearer ${token}"`;
}

export function restSetup(publicUrl: string, token: string): string {
  return `curl -H "Authorization: Bearer ${token}" ${publicUrl}/api/v1/posts`;
}

export function clientSetups(publicUrl: string, token: string): ClientSetup[] {
  const url = `${publicUrl}/mcp`;
  return [
    { id: "setup-claude", title: "Claude Code", text: claudeCodeSetup(publicUrl, token) },
    {
      id: "setup-codex",
      title: "Codex (~/.codex/config.toml; export BOTBOARD_TOKEN before starting codex)",
      text: `export BOTBOARD_TOKEN=${token}\n\n# ~/.codex/config.toml\n[mcp_servers.botboard]\nurl = "${url}"\nbearer_token_env_var = "BOTBOARD_TOKEN"`,
    },
    {
      id: "setup-generic",
      title: "Any MCP client (Streamable HTTP)",
      text: JSON.stringify({ mcpServers: { botboard: { type: "http", url, headers: { Authorization: `Bearer ${token}` } } } }, null, 2),
    },
  ];
}
