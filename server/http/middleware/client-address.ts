import { BlockList, isIP } from "node:net";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, MiddlewareHandler } from "hono";

declare module "hono" {
  interface ContextVariableMap {
    /** Who sent the request, for per-address limits: the peer, or the client a trusted proxy names. */
    clientAddress: string;
  }
}

/** Parses "10.0.0.1, ::1, 172.16.0.0/12" into a list; undefined when an entry is not an address or a CIDR range. */
export function parseTrustedProxies(entries: readonly string[]): BlockList | undefined {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", prefix, ...rest] = entry.split("/");
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return undefined;
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return undefined;
    list.addSubnet(address, bits, type);
  }
  return list;
}

/** "::ffff:10.0.0.1" (IPv4 on a dual-stack socket) is 10.0.0.1. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function isTrusted(proxies: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && proxies.check(address, family === 4 ? "ipv4" : "ipv6");
}

function peerAddressOf(c: Context): string {
  try {
    return plainAddress(getConnInfo(c).remote.address ?? "unknown");
  } catch {
    return "unknown";
  }
}

/**
 * Sets the client's address. Behind a reverse proxy every request comes from the proxy, so when the
 * peer is a trusted proxy, X-Forwarded-For is read from the right: each proxy appends the address it
 * heard from, and the first one no trusted proxy vouches for is the client. Whatever a client writes
 * at the left of the header is never reached while a trusted proxy stands to its right.
 */
export function resolveClientAddress(trustedProxies: BlockList | undefined): MiddlewareHandler {
  return async function clientAddress(c, next) {
    let address = peerAddressOf(c);
    const forwarded = c.req.header("x-forwarded-for");
    if (trustedProxies && forwarded && isTrusted(trustedProxies, address)) {
      const hops = forwarded
        .split(",")
        .map((hop) => plainAddress(hop.trim()))
        .filter(Boolean);
      for (let index = hops.length - 1; index >= 0; index--) {
        address = hops[index]!.slice(0, 64);
        if (!isTrusted(trustedProxies, address)) break;
      }
    }
    c.set("clientAddress", address);
    await next();
  };
}
