import { z } from "zod";
import { ConfigError } from "./config-error.ts";
import { parseTrustedProxies } from "./http/middleware/client-address.ts";
import { claimLimits, defaultPostLimits, defaultReadPageChars, defaultSearchWholePostChars, largestRequestBytes } from "./domain/limits.ts";
import type { BucketRule } from "./domain/rate-limits.ts";
import type { ClaimSettings } from "./domain/claims.ts";
import { defaultWebhookSettings, type WebhookSettings } from "./domain/webhook-settings.ts";
import { defaultEmbeddingsModel, defaultMinSimilarity, type EmbeddingsSettings } from "./domain/embeddings-client.ts";
import { defaultExpensiveQueryLimits, type ExpensiveQueryLimits } from "./domain/expensive-queries.ts";

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);

/** "capacity,perSecond" (e.g. "120,20"), or "0" / "off" to switch the limit off (null here). */
const bucketRule = z
  .string()
  .trim()
  .transform((value, context): BucketRule | null => {
    if (value === "0" || value.toLowerCase() === "off") return null;
    const match = /^(\d+)\s*,\s*(\d+(?:\.\d+)?)$/.exec(value);
    const capacity = Number(match?.[1]);
    const perSecond = Number(match?.[2]);
    if (!match || capacity < 1 || perSecond <= 0) {
      context.addIssue({ code: "custom", message: 'must be "capacity,perSecond" (e.g. "120,20"), or "off"' });
      return z.NEVER;
    }
    return { capacity, perSecond };
  });

const environmentSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  BOTBOARD_DATA_DIR: z.string().min(1).default(".botboard"),
  BOTBOARD_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  BOTBOARD_ALLOWED_ORIGINS: z.string().default(""),
  BOTBOARD_TRUSTED_PROXIES: z
    .string()
    .default("")
    .transform((value) =>
      value
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean),
    )
    .refine(
      (entries) => parseTrustedProxies(entries) !== undefined,
      "must be comma-separated IP addresses or CIDR ranges, e.g. 127.0.0.1,10.0.0.0/8",
    ),
  BOTBOARD_MAX_POST_CHARS: positiveInt.default(defaultPostLimits.maxPostChars),
  BOTBOARD_MAX_BODY_BYTES: positiveInt.optional(),
  BOTBOARD_MAX_TAGS: positiveInt.default(defaultPostLimits.maxTags),
  BOTBOARD_DB_POOL_SIZE: positiveInt.default(10),
  BOTBOARD_DIRECT_DATABASE_URL: z.string().min(1).optional(),
  BOTBOARD_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  BOTBOARD_READ_TIMEOUT_MS: nonNegativeInt.default(5000),
  BOTBOARD_SEARCHES_PER_TOKEN: positiveInt.default(defaultExpensiveQueryLimits.perCaller),
  BOTBOARD_SEARCHES_PER_SERVER: positiveInt.default(defaultExpensiveQueryLimits.perServer),
  BOTBOARD_SEARCH_WHOLE_POST_CHARS: nonNegativeInt.default(defaultSearchWholePostChars),
  BOTBOARD_READ_PAGE_CHARS: positiveInt.default(defaultReadPageChars),
  BOTBOARD_RATE_LIMIT_TOKEN: bucketRule.default({ capacity: 120, perSecond: 20 }),
  BOTBOARD_RATE_LIMIT_ADDRESS: bucketRule.default({ capacity: 300, perSecond: 50 }),
  BOTBOARD_CLAIM_MAX_MINUTES: positiveInt.max(claimLimits.highestMaxMinutes).default(claimLimits.defaultMaxMinutes),
  BOTBOARD_WEBHOOK_ATTEMPTS: positiveInt.max(20).default(defaultWebhookSettings.maxAttempts),
  BOTBOARD_WEBHOOK_RETRY_SECONDS: z.coerce
    .number()
    .positive()
    .default(defaultWebhookSettings.retryBaseMs / 1000),
  BOTBOARD_WEBHOOK_TIMEOUT_MS: positiveInt.max(60_000).default(defaultWebhookSettings.timeoutMs),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  BOTBOARD_EMBEDDINGS_URL: z.url({ protocol: /^https?$/ }).optional(),
  BOTBOARD_EMBEDDINGS_MODEL: z.string().min(1).default(defaultEmbeddingsModel),
  BOTBOARD_EMBEDDINGS_KEY: z.string().min(1).optional(),
  BOTBOARD_EMBEDDINGS_MIN_SIMILARITY: z.coerce.number().min(-1).max(1).default(defaultMinSimilarity),
  BOTBOARD_OAUTH_LOCAL_CLIENTS: z.enum(["true", "false"], { error: "must be true or false" }).default("false"),
});

export type Config = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** The database without its transaction pooler, for LISTEN and migrations (see DatabaseOptions). */
  directDatabaseUrl: string | undefined;
  dataDir: string;
  /** The address people and agents use to reach the server; links and cookies follow it. */
  publicUrl: string;
  /** Origins besides the public URL's that may call /mcp from a browser. */
  allowedOrigins: string[];
  /** Reverse proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  limits: { maxPostChars: number; maxBodyBytes: number; maxTags: number };
  dbPoolSize: number;
  /** The bearer token that /metrics asks for; without one there is no /metrics. */
  metricsToken: string | undefined;
  /** Longest a search or a read of the feed may run on Postgres, in milliseconds; 0 is no limit. */
  readTimeoutMs: number;
  /** Searches run at once per token (or engineer) and per server process. */
  searchConcurrency: ExpensiveQueryLimits;
  /** MCP search shows a found post whole up to this many characters, longer ones as excerpts. */
  searchWholePostChars: number;
  /** The most characters of posts an MCP read_new or read_posts page holds (at least one post). */
  readPageChars: number;
  /** Token buckets for agents' requests (REST, compat API, MCP); undefined is off. */
  rateLimits: { perToken: BucketRule | undefined; perAddress: BucketRule | undefined };
  /** The longest claim on paths an agent may make or renew, in minutes. */
  claims: ClaimSettings;
  /** Outgoing webhooks: attempts, backoff, request timeout (server/domain/webhook-settings.ts). */
  webhooks: WebhookSettings;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** Semantic search's embeddings endpoint; undefined keeps search full-text only. */
  embeddings: EmbeddingsSettings | undefined;
  /** Accept OAuth client ID metadata documents on http://127.0.0.1 and localhost: tests and local development only. */
  oauthLoopbackClientIds: boolean;
};

const defaultPublicUrl = (port: number) => `http://localhost:${port}`;

/**
 * The configuration of a server listening on `port`. With PORT=0 the system chose the port, and the
 * public URL, unless BOTBOARD_PUBLIC_URL gives it, names the port chosen rather than 0.
 */
export function listeningOn(config: Config, port: number): Config {
  if (config.port !== 0 || config.publicUrl !== defaultPublicUrl(0)) return config;
  const publicUrl = defaultPublicUrl(port);
  return { ...config, port, publicUrl, webhooks: { ...config.webhooks, publicUrl } };
}

/** Reads and validates the environment once; an invalid variable stops start-up with its name. */
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  const parsed = environmentSchema.safeParse(
    Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== undefined && value !== "")),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  const env = parsed.data;
  const publicUrl = (env.BOTBOARD_PUBLIC_URL ?? defaultPublicUrl(env.PORT)).replace(/\/+$/, "");
  return {
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    directDatabaseUrl: env.BOTBOARD_DIRECT_DATABASE_URL,
    dataDir: env.BOTBOARD_DATA_DIR,
    publicUrl,
    allowedOrigins: env.BOTBOARD_ALLOWED_ORIGINS.split(",")
      .map((origin) => origin.trim())
      .filter(Boolean),
    trustedProxies: env.BOTBOARD_TRUSTED_PROXIES,
    limits: {
      maxPostChars: env.BOTBOARD_MAX_POST_CHARS,
      maxBodyBytes:
        env.BOTBOARD_MAX_BODY_BYTES ?? largestRequestBytes({ maxPostChars: env.BOTBOARD_MAX_POST_CHARS, maxTags: env.BOTBOARD_MAX_TAGS }),
      maxTags: env.BOTBOARD_MAX_TAGS,
    },
    dbPoolSize: env.BOTBOARD_DB_POOL_SIZE,
    metricsToken: env.BOTBOARD_METRICS_TOKEN,
    readTimeoutMs: env.BOTBOARD_READ_TIMEOUT_MS,
    searchConcurrency: { perCaller: env.BOTBOARD_SEARCHES_PER_TOKEN, perServer: env.BOTBOARD_SEARCHES_PER_SERVER },
    searchWholePostChars: env.BOTBOARD_SEARCH_WHOLE_POST_CHARS,
    readPageChars: env.BOTBOARD_READ_PAGE_CHARS,
    rateLimits: { perToken: env.BOTBOARD_RATE_LIMIT_TOKEN ?? undefined, perAddress: env.BOTBOARD_RATE_LIMIT_ADDRESS ?? undefined },
    claims: { maxMinutes: env.BOTBOARD_CLAIM_MAX_MINUTES },
    webhooks: {
      publicUrl,
      maxAttempts: env.BOTBOARD_WEBHOOK_ATTEMPTS,
      retryBaseMs: Math.round(env.BOTBOARD_WEBHOOK_RETRY_SECONDS * 1000),
      timeoutMs: env.BOTBOARD_WEBHOOK_TIMEOUT_MS,
      retryAfterErrorMs: defaultWebhookSettings.retryAfterErrorMs,
    },
    logLevel: env.LOG_LEVEL,
    embeddings: env.BOTBOARD_EMBEDDINGS_URL
      ? {
          url: env.BOTBOARD_EMBEDDINGS_URL,
          model: env.BOTBOARD_EMBEDDINGS_MODEL,
          apiKey: env.BOTBOARD_EMBEDDINGS_KEY,
          minSimilarity: env.BOTBOARD_EMBEDDINGS_MIN_SIMILARITY,
        }
      : undefined,
    oauthLoopbackClientIds: env.BOTBOARD_OAUTH_LOCAL_CLIENTS === "true",
  };
}
