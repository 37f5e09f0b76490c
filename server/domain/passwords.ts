import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { availableParallelism } from "node:os";
import { AppError } from "./errors.ts";

/**
 * scrypt from node:crypto: memory-hard, no native dependency. N=2^15, r=8, p=1 uses 32 MiB and
 * takes about 80 ms here (docs/decisions/002-password-hashing.md).
 */
const parameters = { N: 2 ** 15, r: 8, p: 1 } as const;
const keyLength = 32;

/**
 * Hashes run one per two cores (at least one), so a burst of sign-ins or set-ups leaves a core for
 * every other request; a few more wait their turn (a wait of under a second), and beyond that a
 * hash is refused with 503 and Retry-After rather than queued without end.
 */
const maxRunningHashes = Math.max(1, Math.floor(availableParallelism() / 2));
const maxWaitingHashes = 8;
let runningHashes = 0;
const waitingHashes: (() => void)[] = [];

async function inHashingSlot<T>(work: () => Promise<T>): Promise<T> {
  if (runningHashes < maxRunningHashes) runningHashes++;
  else if (waitingHashes.length < maxWaitingHashes) await new Promise<void>((resolve) => waitingHashes.push(resolve));
  else throw new AppError("unavailable", "Too many sign-ins at once. Wait 1 second and try again.", 1);
  try {
    return await work();
  } finally {
    // A waiting hash takes over this slot; with none waiting, the slot is free.
    const nextHash = waitingHashes.shift();
    if (nextHash) nextHash();
    else runningHashes--;
  }
}

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return inHashingSlot(() => deriveNow(password, salt, options));
}

function deriveNow(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFKC"), salt, keyLength, { ...options, maxmem: 128 * options.N! * options.r! * 2 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, parameters);
  return `scrypt$${parameters.N}$${parameters.r}$${parameters.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await derive(password, Buffer.from(salt, "base64"), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const base64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Whether a stored hash is one this server makes: scrypt with today's parameters. Verifying runs
 * with the parameters the hash names, so a hash from elsewhere (an imported archive) naming a huge
 * N would make every sign-in to its account cost seconds and gigabytes.
 */
export function isCurrentPasswordHash(stored: string): boolean {
  const [scheme, n, r, p, salt, key, ...rest] = stored.split("$");
  return (
    scheme === "scrypt" &&
    n === String(parameters.N) &&
    r === String(parameters.r) &&
    p === String(parameters.p) &&
    rest.length === 0 &&
    base64.test(salt ?? "") &&
    base64.test(key ?? "") &&
    Buffer.from(key!, "base64").length === keyLength
  );
}

/** A hash of nothing: verifying against it costs the same as a real check, so unknown users take as long. */
export const decoyPasswordHash = await hashPassword(randomBytes(16).toString("hex"));
