import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { invalid } from "../domain/errors.ts";

/**
 * What the REST API's routes take besides their own input: nothing else. Unknown query parameters
 * and fields are refused (a misspelt one would otherwise be quietly ignored), so a route that takes
 * no query says so, and a route that takes no body refuses one.
 */

/** The query of a route that takes no query parameters. */
export const noQueryParameters = z.strictObject({});

/** A POST whose options are all query parameters: a body sent anyway would be ignored, so it is refused. */
export const refuseBody: MiddlewareHandler = async function refuseBody(c, next) {
  // Most callers send no body; only a declared or streamed one is read.
  const mayHaveBody = c.req.header("transfer-encoding") !== undefined || Number(c.req.header("content-length") ?? 0) > 0;
  if (mayHaveBody && (await c.req.arrayBuffer()).byteLength > 0) {
    throw invalid(`${c.req.method} ${c.req.path} takes no body: its options are query parameters.`);
  }
  await next();
};
