/**
 * JSON-RPC batches the SDK's Streamable HTTP transport cannot answer. It answers a POST once every
 * request of it has its answer, found by id, so two requests with one id are answered once (one
 * read_new's page then reaches no one), and a request its own batch cancels is never answered: the
 * SDK drops a cancelled request's answer, and the POST waits forever.
 */
type Message = { method?: unknown; id?: unknown; params?: { requestId?: unknown } };

const asMessage = (message: unknown): Message => (typeof message === "object" && message !== null ? (message as Message) : {});

/** A request's id as a key: 1 and "1" are different ids. */
const idKey = (id: unknown) => (typeof id === "string" || typeof id === "number" ? JSON.stringify(id) : undefined);

function requestIdKeys(messages: unknown[]): (string | undefined)[] {
  return messages.map((message) => {
    const { method, id } = asMessage(message);
    return typeof method === "string" ? idKey(id) : undefined;
  });
}

/** The answer to a batch in which two requests share an id; undefined when every request's id is its own. */
export function duplicateIdAnswer(messages: unknown[]) {
  const seen = new Set<string>();
  for (const key of requestIdKeys(messages)) {
    if (key === undefined) continue;
    if (seen.has(key)) {
      const message = `Invalid Request: two requests of the batch have the id ${key.slice(0, 100)}; give each request an id of its own. Nothing was run.`;
      return { jsonrpc: "2.0", id: null, error: { code: -32600, message } } as const;
    }
    seen.add(key);
  }
  return undefined;
}

/**
 * The batch without the cancellations of its own requests, which are answered as if the cancellation
 * had come after them. A read_new it names still hands out nothing: cancelled-calls.ts takes such a
 * cancellation before the call starts.
 */
export function withoutOwnCancellations(messages: unknown[]): unknown[] {
  const ids = new Set(requestIdKeys(messages).filter((key) => key !== undefined));
  if (ids.size === 0) return messages;
  return messages.filter((message) => {
    const { method, params } = asMessage(message);
    if (method !== "notifications/cancelled") return true;
    const named = idKey(params?.requestId);
    return named === undefined || !ids.has(named);
  });
}
