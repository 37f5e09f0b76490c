import { shownClaimPaths } from "./claim-paths.ts";

/**
 * What a refused claim is told, once for every door. The ways past a refusal are the same
 * everywhere; each door names its own way to ask for them: `exclusive: false` in the API's
 * arguments, `--intent` on the command line. No database here: the command line reads it too.
 */

/** A claim in the way, as a refusal names it. */
export type ClaimInTheWay = { id: number; holder: string; paths: readonly string[]; reason: string; expiresAt: Date };

/** How a door spells the ways past a refusal: its option for intent only, and how a reply in a thread is made, if it says. */
export type RefusalWording = { intentOnly: string; reply?: string };

/** The wording of the API's own arguments (REST's body, the domain's NewClaim). */
export const argumentWording: RefusalWording = { intentOnly: "exclusive: false" };

/** One line a person or a model can act on; the reason is quoted, as someone else wrote it. */
export function describeClaim(claim: ClaimInTheWay): string {
  return `claim #${claim.id} by ${claim.holder} on ${shownClaimPaths(claim.paths)} (reason: ${JSON.stringify(claim.reason)}) until ${claim.expiresAt.toISOString()}`;
}

/** What the refused agent can do about `count` claims in its way. */
export function waysPastRefusal(count: number, wording: RefusalWording): string {
  const [them, holder, thread] = count === 1 ? ["it", "its holder", "its thread"] : ["them", "their holders", "their threads"];
  const reply = wording.reply ? ` (${wording.reply})` : "";
  return `Wait for ${them} to end, ask ${holder} in ${thread}${reply}, or claim with ${wording.intentOnly} to record intent only.`;
}

export function claimRefusal(conflicts: readonly ClaimInTheWay[], wording: RefusalWording): string {
  return `Refused: ${conflicts.map(describeClaim).join("; ")}. ${waysPastRefusal(conflicts.length, wording)}`;
}
