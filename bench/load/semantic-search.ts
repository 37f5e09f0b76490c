/**
 * What hybrid search costs (docs/decisions/032-semantic-search.md): seeds a team with N posts, lets a
 * server embed them through a local endpoint that makes 384-dimension vectors, then times REST
 * searches with semantic search on and, on the same database, off.
 *
 *   npx tsx bench/load/semantic-search.ts [posts=10000] [dimensions=384] [postgres URL]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { text as readBody } from "node:stream/consumers";
import { sql } from "drizzle-orm";
import { loadConfig } from "../../server/config.ts";
import { freshDatabase } from "../../server/db/fresh-database.ts";
import { startServer, type RunningServer } from "../../server/main.ts";
import { seedLoadData } from "./seed.ts";
import { rowsOf } from "../../server/db/client.ts";

const postCount = Number(process.argv[2] ?? 10_000);
const dimensions = Number(process.argv[3] ?? 384);
const postgresUrl = process.argv[4] ?? "postgres://postgres@127.0.0.1:5432/test";
const queries = ["cache", "deadlock", "timeout", "fixture", "rollback", "worker", "memory", "latency", "parser", "schema"];
const repeats = Number(process.env.REPEATS ?? 5);

/** A word's vector: pseudo-random from its hash, the same every time. */
function wordVector(word: string): Float32Array {
  let state = 2166136261;
  for (const character of word) state = Math.imul(state ^ character.charCodeAt(0), 16777619);
  return Float32Array.from({ length: dimensions }, () => {
    state = Math.imul(state ^ (state >>> 15), 2246822507) ^ Math.imul(state ^ (state >>> 13), 3266489909);
    return ((state >>> 0) / 2 ** 32) * 2 - 1;
  });
}

async function startEndpoint(): Promise<{ url: string; close(): void }> {
  const server = createServer(async (request, response) => {
    const body = JSON.parse(await readBody(request)) as { input: string[] };
    const data = body.input.map((text, index) => {
      const sum = new Float32Array(dimensions);
      for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
        const vector = wordVector(word);
        for (let i = 0; i < dimensions; i++) sum[i]! += vector[i]!;
      }
      return { index, embedding: Array.from(sum) };
    });
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ data }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/embeddings`, close: () => server.close() };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

async function timeSearches(server: RunningServer, token: string, label: string): Promise<void> {
  const times: number[] = [];
  for (let round = 0; round < repeats; round++) {
    for (const [index, query] of queries.entries()) {
      // A query not asked before: its vector comes from the endpoint, not the server's cache.
      const words = `${query} ${queries[(index + round + 1) % queries.length]}`;
      const started = performance.now();
      const response = await fetch(`${server.url}/api/v1/search?q=${encodeURIComponent(words)}&limit=10`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (response.status !== 200) throw new Error(`search answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      times.push(performance.now() - started);
    }
  }
  times.sort((a, b) => a - b);
  console.log(
    `  ${label}: median ${percentile(times, 0.5).toFixed(1)} ms, p95 ${percentile(times, 0.95).toFixed(1)} ms (${times.length} searches)`,
  );
}

for (const kind of (process.env.KINDS ?? "pglite,postgres").split(",") as ("pglite" | "postgres")[]) {
  const database = await freshDatabase(kind, { postgresUrl, namePrefix: "botboard_semantic" });
  const endpoint = await startEndpoint();
  try {
    console.log(`${kind}: ${postCount} posts, ${dimensions} dimensions`);
    const environment = { PORT: "0", LOG_LEVEL: "warn", ...database.env };
    let server = await startServer(loadConfig({ ...environment, BOTBOARD_EMBEDDINGS_URL: endpoint.url }));
    const { tokens } = await seedLoadData(server.database.db, { teams: 1, agentsPerTeam: 10, posts: postCount });
    const seeded = performance.now();
    for (;;) {
      const [row] = rowsOf<{ count: string }>(
        await server.database.db.execute(sql`select count(*) as count from post_embeddings where embedding is not null`),
      );
      if (Number(row!.count) >= postCount) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    console.log(`  background embedding of the backlog: ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    const first = performance.now();
    await fetch(`${server.url}/api/v1/search?q=warmup&limit=10`, { headers: { authorization: `Bearer ${tokens[0]}` } });
    console.log(`  first search (loads the team's vectors): ${(performance.now() - first).toFixed(0)} ms`);
    await timeSearches(server, tokens[0]!, "hybrid search");
    await server.close();
    server = await startServer(loadConfig(environment));
    await timeSearches(server, tokens[0]!, "full-text search alone");
    await server.close();
  } finally {
    endpoint.close();
    await database.drop();
  }
}
