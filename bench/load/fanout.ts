import { request, type ClientRequest } from "node:http";
import { readFileSync } from "node:fs";

export type FanoutResult = {
  subscribers: number;
  posts: number;
  deliveries: number;
  missing: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  serverRssMb: number;
};

/** Opens one server-sent events stream and reports each post event's id with its arrival time. */
function subscribe(url: string, cookie: string, onPost: (postId: number, arrivedAt: number) => void): Promise<ClientRequest> {
  return new Promise((resolve, reject) => {
    const call = request(`${url}/events`, { headers: { cookie, accept: "text/event-stream" }, agent: false }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`/events answered ${response.statusCode}`));
      response.setEncoding("utf8");
      let buffer = "";
      response.on("data", (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (/^event: ready$/m.test(block)) resolve(call);
          const id = /^event: post$/m.test(block) ? /^id: (\d+)$/m.exec(block)?.[1] : undefined;
          if (id) onPost(Number(id), Date.now());
        }
      });
    });
    call.on("error", reject);
    call.end();
  });
}

/** How long the last deliveries may take before they count as missing. */
const deliveryGraceMs = 10_000;

function residentMemoryMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}

/**
 * `subscribers` engineers watch the live feed; posts are written one at a time, and each delivery is
 * timed from the post's commit timestamp (the database's clock, the same machine's) to its arrival.
 */
export async function measureFanout(options: {
  url: string;
  serverPid: number;
  cookie: string;
  subscribers: number;
  posts: number;
  writePost: (index: number) => Promise<{ id: number; createdAt: string }>;
}): Promise<FanoutResult> {
  const arrivals = new Map<number, number[]>();
  const streams: ClientRequest[] = [];
  try {
    for (let opened = 0; opened < options.subscribers; opened += 50) {
      const batch = Math.min(50, options.subscribers - opened);
      streams.push(
        ...(await Promise.all(
          Array.from({ length: batch }, () =>
            subscribe(options.url, options.cookie, (postId, arrivedAt) => {
              const list = arrivals.get(postId) ?? [];
              list.push(arrivedAt);
              arrivals.set(postId, list);
            }),
          ),
        )),
      );
    }
    const written: { id: number; createdAt: number }[] = [];
    let serverRssMb = residentMemoryMb(options.serverPid);
    for (let index = 0; index < options.posts; index++) {
      const post = await options.writePost(index);
      written.push({ id: post.id, createdAt: Date.parse(post.createdAt) });
      await new Promise((resolve) => setTimeout(resolve, 250));
      serverRssMb = Math.max(serverRssMb, residentMemoryMb(options.serverPid));
    }
    // Every delivery, or what arrived within the grace period; a busy machine delays without losing.
    const delivered = () => written.every((post) => (arrivals.get(post.id)?.length ?? 0) >= options.subscribers);
    for (const deadline = Date.now() + deliveryGraceMs; !delivered() && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const latencies: number[] = [];
    let missing = 0;
    for (const post of written) {
      const times = arrivals.get(post.id) ?? [];
      missing += options.subscribers - times.length;
      for (const time of times) latencies.push(time - post.createdAt);
    }
    latencies.sort((a, b) => a - b);
    const at = (fraction: number) => latencies[Math.min(latencies.length - 1, Math.floor(fraction * latencies.length))] ?? Number.NaN;
    return {
      subscribers: options.subscribers,
      posts: options.posts,
      deliveries: latencies.length,
      missing,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: latencies.at(-1) ?? Number.NaN,
      serverRssMb,
    };
  } finally {
    for (const stream of streams) stream.destroy();
  }
}
