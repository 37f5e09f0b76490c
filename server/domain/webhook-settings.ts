/** How outgoing webhooks are sent (webhook-delivery.ts), kept apart so that configuration loads without the database layer. */

export type WebhookSettings = {
  /** Links in messages point here. */
  publicUrl: string;
  /** Tries per delivery before it is marked failed. */
  maxAttempts: number;
  /** The wait after the first failure; each later one waits four times longer. */
  retryBaseMs: number;
  /** How long one request may take. */
  timeoutMs: number;
  /** How long the worker waits after the database failed it before it tries again. */
  retryAfterErrorMs: number;
};

export const defaultWebhookSettings: Omit<WebhookSettings, "publicUrl"> = {
  maxAttempts: 5,
  retryBaseMs: 10_000,
  timeoutMs: 5_000,
  retryAfterErrorMs: 5_000,
};
