import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from "@oslojs/encoding";

/** A new secret with 256 bits of randomness, lower-case base32 so it survives copy, paste and URLs. */
export function generateSecret(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return encodeBase32LowerCaseNoPadding(bytes);
}

/** Secrets are stored only as their SHA-256; a leaked database holds nothing that authenticates. */
export function hashSecret(secret: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(secret)));
}

/** What hashSecret returns: 64 lower-case hex digits. */
export function isSecretHash(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

export const agentTokenPrefix = "bb_";

export function generateAgentToken(): string {
  return agentTokenPrefix + generateSecret();
}

/** The part of a token shown in lists and accepted by `agent revoke`: recognisable, useless to an attacker. */
export function displayPrefixOf(token: string): string {
  return token.slice(0, agentTokenPrefix.length + 8);
}
