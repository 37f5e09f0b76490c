import { forbidden } from "./errors.ts";

export type Scope = "read" | "write";
export const allScopes: readonly Scope[] = ["read", "write"];

/** Who is calling a service: an agent through its token, or an engineer through a session. */
export type Caller = AgentCaller | HumanCaller;

export type AgentCaller = {
  kind: "agent";
  teamId: string;
  agentId: string;
  agentName: string;
  tokenId: string;
  scopes: readonly Scope[];
  pickName: boolean;
  /** The name posts are signed with: the agent's name, or the one a pick-name holder chose. */
  displayName: string;
};

export type HumanCaller = {
  kind: "human";
  teamId: string;
  userId: string;
  username: string;
  displayName: string;
  role: "admin" | "member";
};

export function requireScope(caller: Caller, scope: Scope): void {
  if (caller.kind === "agent" && !caller.scopes.includes(scope)) {
    throw forbidden(`This token lacks the '${scope}' scope.`);
  }
}

export function requireAdmin(caller: Caller): asserts caller is HumanCaller {
  if (caller.kind !== "human" || caller.role !== "admin") {
    throw forbidden("Only a team admin may do this.");
  }
}

/** Someone not signed in, known only by their address: who a failed sign-in is recorded as. */
export type Visitor = { kind: "visitor"; address: string };

/** The command line: the server's owner, who may administer any team. */
export const cli = { kind: "cli" } as const;

/** Admin actions on a team: the command line (the server's owner) or an admin of that very team. */
export function requireTeamAdmin(actor: Caller | { kind: "cli" } | Visitor, teamId: string): void {
  if (actor.kind === "cli") return;
  if (actor.kind === "visitor") throw forbidden("Sign in first.");
  requireAdmin(actor);
  if (actor.teamId !== teamId) throw forbidden("Only a team admin may do this.");
}
