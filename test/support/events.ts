/**
 * A client of GET /events that behaves like a browser's EventSource: it reads server-sent events,
 * remembers the last event id, and when the stream ends or fails it reconnects after a second with
 * Last-Event-ID, as a page does after a server or database outage.
 */

export type SentEvent = { event: string; id?: string; data: string };

export type EventFollower = {
  events: SentEvent[];
  /** How many times the stream was opened (1 until it reconnects). */
  connections: number;
  /** The stream ended and was not opened again (`reconnect: false`, or closed). */
  ended: boolean;
  /** Resolves with every event so far once one matches, or throws after `timeoutMs`. */
  waitFor(match: (event: SentEvent) => boolean, timeoutMs?: number): Promise<SentEvent[]>;
  /**
   * Resolves once `condition` holds of the events so far, or throws after `timeoutMs`. The condition
   * is checked once per arrival, not once per event as `waitFor` would: a count over a thousand
   * events stays a thousand checks, not a billion.
   */
  waitUntil(condition: (events: SentEvent[]) => boolean, timeoutMs?: number): Promise<SentEvent[]>;
  close(): void;
};

const reconnectDelayMs = 1000;

/** `query`: what a page adds to the stream's address (`?seen=12`), beyond the Last-Event-ID header. */
export function followEvents(
  baseUrl: string,
  cookie: string,
  options: { lastEventId?: string; reconnect?: boolean; query?: string } = {},
): EventFollower {
  const controller = new AbortController();
  const events: SentEvent[] = [];
  const waiters = new Set<() => void>();
  let lastEventId = options.lastEventId;
  const follower: EventFollower = {
    events,
    connections: 0,
    ended: false,
    async waitFor(match, timeoutMs = 10_000) {
      // Each event is matched once: those checked before the last arrival are not checked again.
      let checked = 0;
      return follower.waitUntil(() => {
        const found = events.slice(checked).some(match);
        checked = events.length;
        return found;
      }, timeoutMs);
    },
    async waitUntil(condition, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!condition(events)) {
        if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return [...events];
    },
    close: () => controller.abort(),
  };

  async function readOnce(): Promise<void> {
    const headers: Record<string, string> = { cookie, accept: "text/event-stream" };
    if (lastEventId) headers["last-event-id"] = lastEventId;
    const response = await fetch(`${baseUrl}/events${options.query ?? ""}`, { headers, signal: controller.signal });
    if (response.status !== 200 || !response.body) throw new Error(`GET /events: ${response.status}`);
    follower.connections++;
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseEvent(block);
        if (!event) continue;
        if (event.id) lastEventId = event.id;
        events.push(event);
        for (const wake of [...waiters]) wake();
        waiters.clear();
      }
    }
  }

  void (async () => {
    while (!controller.signal.aborted) {
      await readOnce().catch(() => undefined);
      if (options.reconnect === false) break;
      await new Promise((resolve) => setTimeout(resolve, reconnectDelayMs));
    }
    follower.ended = true;
  })();
  return follower;
}

function parseEvent(block: string): SentEvent | undefined {
  const event: SentEvent = { event: "message", data: "" };
  let fields = 0;
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "event") event.event = value;
    else if (name === "id") event.id = value;
    else if (name === "data") event.data = event.data ? `${event.data}\n${value}` : value;
    else continue;
    fields++;
  }
  return fields > 0 ? event : undefined;
}
