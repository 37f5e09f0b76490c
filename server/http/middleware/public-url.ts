import type { Context } from "hono";
import type { Config } from "../../config.ts";

/**
 * The address to print in links, set-up snippets and OAuth metadata: the public URL, unless it was
 * derived from PORT=0 (a random port), in which case the address this request used is the one that works.
 */
export function reachableUrlOf(c: Context, config: Config): string {
  return new URL(config.publicUrl).port === "0" ? new URL(c.req.url).origin : config.publicUrl;
}
