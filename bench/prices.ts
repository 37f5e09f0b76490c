import { z } from "zod";
import type { BenchRunSettings } from "../server/db/schema/index.ts";
import { readJsonFile } from "./json-files.ts";

export type PriceTable = BenchRunSettings["prices"];

/**
 * USD per million tokens, for drivers that report tokens but no cost (the openai loop, Codex).
 * Published list prices when this was written; pass --prices FILE (the same JSON shape) to change them.
 */
export const defaultPrices: PriceTable = {
  "claude-sonnet-4-5": { inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 0.3, cacheWritePerMTok: 3.75 },
  "claude-opus-4-1": { inputPerMTok: 15, outputPerMTok: 75, cacheReadPerMTok: 1.5, cacheWritePerMTok: 18.75 },
  "claude-haiku-4-5": { inputPerMTok: 1, outputPerMTok: 5, cacheReadPerMTok: 0.1, cacheWritePerMTok: 1.25 },
  "gpt-5": { inputPerMTok: 1.25, outputPerMTok: 10, cacheReadPerMTok: 0.125 },
  "gpt-5-mini": { inputPerMTok: 0.25, outputPerMTok: 2, cacheReadPerMTok: 0.025 },
  "gpt-5-codex": { inputPerMTok: 1.25, outputPerMTok: 10, cacheReadPerMTok: 0.125 },
  "gpt-4.1": { inputPerMTok: 2, outputPerMTok: 8, cacheReadPerMTok: 0.5 },
  "gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6, cacheReadPerMTok: 0.075 },
};

/**
 * A price table, as --prices reads it and run.json keeps it. Strict: a misspelt field
 * (`cacheReadPerMtok`) would otherwise drop out and price cache reads as input.
 */
export const priceTableSchema = z.record(
  z.string(),
  z.strictObject({
    inputPerMTok: z.number().nonnegative(),
    outputPerMTok: z.number().nonnegative(),
    cacheReadPerMTok: z.number().nonnegative().optional(),
    cacheWritePerMTok: z.number().nonnegative().optional(),
  }),
) satisfies z.ZodType<PriceTable>;

export function loadPrices(file: string | undefined): PriceTable {
  if (!file) return defaultPrices;
  return { ...defaultPrices, ...readJsonFile(file, priceTableSchema) };
}

export type TokenUsage = { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number };

/** A snapshot's date, as Anthropic (`-20250929`) and OpenAI (`-2025-04-14`) put it after the model's name. */
const dateSuffix = /^-(?:\d{8}|\d{4}-\d{2}-\d{2})$/;

/**
 * A model's row: its own, else that of the name it extends with a date (`claude-sonnet-4-5-20250929`).
 * Only a date: `gpt-4.1-mini` and `gpt-5-nano` are other models, at other prices, not versions of `gpt-4.1` or `gpt-5`.
 */
function priceEntry(prices: PriceTable, model: string) {
  if (prices[model]) return prices[model];
  const base = Object.keys(prices).find((name) => model.startsWith(name) && dateSuffix.test(model.slice(name.length)));
  return base ? prices[base] : undefined;
}

/** The price of some usage, or undefined when the model is not in the table. */
export function priceOf(prices: PriceTable, model: string | undefined, usage: TokenUsage): number | undefined {
  const price = model ? priceEntry(prices, model) : undefined;
  if (!price) return undefined;
  const perToken = (perMTok: number) => perMTok / 1_000_000;
  return (
    usage.inputTokens * perToken(price.inputPerMTok) +
    usage.outputTokens * perToken(price.outputPerMTok) +
    usage.cacheReadTokens * perToken(price.cacheReadPerMTok ?? price.inputPerMTok) +
    usage.cacheWriteTokens * perToken(price.cacheWritePerMTok ?? price.inputPerMTok)
  );
}
