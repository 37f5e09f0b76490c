/**
 * The server's CPU per feed request, in process and without sockets: `GET /api/v1/posts?limit=20`
 * sent N times in a row through `app.request()` to two apps on the same Postgres database, one with
 * the first-page cache (server/domain/feed-cache.ts) and one without, in alternating rounds so both
 * see the same machine load. Reports `process.cpuUsage()` (user + system) per request and the share
 * of it `JSON.stringify` of the page takes. Postgres's own CPU is in its processes, not counted here.
 *
 *   npx tsx bench/load/feed-cpu.ts [requests-per-round] [rounds] [posts] [limits: on|off] [postgres-url] > /dev/null
 */
import { loadConfig } from "../../server/config.ts";
import { createApp } from "../../server/app.ts";
import { openDatabase } from "../../server/db/client.ts";
import { createEventHub } from "../../server/domain/events.ts";
import { cacheFeedFirstPages } from "../../server/domain/feed-cache.ts";
import { freshDatabase } from "../../server/db/fresh-database.ts";
import { configureLogger } from "../../server/logger.ts";
import { seedLoadData } from "./seed.ts";

const requests = Number(process.argv[2] ?? 2_000);
const rounds = Number(process.argv[3] ?? 5);
const postCount = Number(process.argv[4] ?? 10_000);
const limitsOn = (process.argv[5] ?? "on") === "on";
const postgresUrl = process.argv[6] ?? "postgres://postgres@127.0.0.1:5432/postgres";

const fresh = await freshDatabase("postgres", { postgresUrl, namePrefix: "botboard_feedcpu" });
const databaseUrl = fresh.env.DATABASE_URL!;
// "on": limits high enough never to refuse, so every request spends from its buckets as the defaults do.
const limits = limitsOn
  ? { BOTBOARD_RATE_LIMIT_TOKEN: "1000000,1000000", BOTBOARD_RATE_LIMIT_ADDRESS: "1000000,1000000" }
  : { BOTBOARD_RATE_LIMIT_TOKEN: "off", BOTBOARD_RATE_LIMIT_ADDRESS: "off" };
// Request logs at the default level cost CPU too: send stdout to /dev/null (the results go to stderr).
const config = loadConfig({ PORT: "0", LOG_LEVEL: process.env.LOG_LEVEL ?? "info", DATABASE_URL: databaseUrl, ...limits });
configureLogger(config.logLevel);

const plain = await openDatabase({ databaseUrl, dataDir: "", poolSize: config.dbPoolSize });
await plain.migrate();
const { tokens } = await seedLoadData(plain.db, { teams: 1, agentsPerTeam: 10, posts: postCount });
const cached = await openDatabase({ databaseUrl, dataDir: "", poolSize: config.dbPoolSize });
const cachedHub = createEventHub(cached);
cacheFeedFirstPages(cached.db, cachedHub);

const variants = {
  "no cache": createApp(plain, config),
  "first-page cache": createApp(cached, config, cachedHub),
};
const init = { headers: { authorization: `Bearer ${tokens[0]}`, "x-forwarded-for": "10.0.0.1" } };
const path = "/api/v1/posts?limit=20";

async function round(app: (typeof variants)[keyof typeof variants]): Promise<number> {
  for (let index = 0; index < 50; index++) await (await app.request(path, init)).text();
  const before = process.cpuUsage();
  for (let index = 0; index < requests; index++) {
    const response = await app.request(path, init);
    if (response.status !== 200) throw new Error(`feed answered ${response.status}: ${await response.text()}`);
    await response.text();
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / requests;
}

/** What serialising one page costs alone, for the share of the request it is. */
async function stringifyMs(): Promise<number> {
  const page = await (await variants["no cache"].request(path, init)).json();
  const before = process.cpuUsage();
  for (let index = 0; index < requests; index++) JSON.stringify(page);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / requests;
}

const perRequest: Record<string, number[]> = { "no cache": [], "first-page cache": [] };
for (let index = 0; index < rounds; index++) {
  const order = index % 2 === 0 ? (["no cache", "first-page cache"] as const) : (["first-page cache", "no cache"] as const);
  for (const name of order) perRequest[name]!.push(await round(variants[name]));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const format = (values: number[]) => values.map((value) => value.toFixed(3)).join(", ");
console.error(`${requests} requests a round, ${rounds} rounds, ${postCount} posts, rate limits ${limitsOn ? "on" : "off"}`);
for (const [name, values] of Object.entries(perRequest)) {
  console.error(`${name}: CPU ms per request ${format(values)} (median ${median(values).toFixed(3)})`);
}
console.error(`JSON.stringify of one page: ${(await stringifyMs()).toFixed(3)} ms`);
console.error(`ratio cached / uncached: ${(median(perRequest["first-page cache"]!) / median(perRequest["no cache"]!)).toFixed(2)}`);

await cachedHub.close();
await Promise.all([plain.close(), cached.close()]);
await fresh.drop();
