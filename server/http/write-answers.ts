import type { Context } from "hono";

/**
 * The status of a write's answer: 201 for a new post or journal entry, 200 with
 * `Idempotent-Replayed: true` when its Idempotency-Key's earlier write answers it. One rule for the
 * REST API and the compatible one.
 */
export function writeAnswerStatus(c: Context, replayed: boolean): 200 | 201 {
  if (replayed) c.header("Idempotent-Replayed", "true");
  return replayed ? 200 : 201;
}
