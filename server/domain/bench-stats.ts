import { mean, median, quantile, sampleWithReplacement } from "simple-statistics";

/**
 * The benchmark's statistics, as pure functions: Wilson intervals for pass rates, paired ratios
 * against the baseline with percentile-bootstrap intervals from a seeded generator (so a report
 * computed twice from the same trials says exactly the same thing).
 */

export type Interval = { estimate: number; low: number; high: number };

const z95 = 1.959963984540054;

/** Wilson score interval for a proportion: sound for small samples and rates near 0 or 1. */
export function wilsonInterval(successes: number, trials: number, z = z95): Interval {
  if (trials === 0) return { estimate: Number.NaN, low: 0, high: 1 };
  const rate = successes / trials;
  const z2 = z * z;
  const centre = (rate + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z * Math.sqrt((rate * (1 - rate)) / trials + z2 / (4 * trials * trials))) / (1 + z2 / trials);
  return { estimate: rate, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** mulberry32: a small, fast, seedable generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Pair = { variant: number; baseline: number };

/** variant / baseline for each pair; pairs whose baseline is 0 have no ratio and are left out. */
export function pairedRatios(pairs: readonly Pair[]): number[] {
  return pairs.filter((pair) => pair.baseline > 0).map((pair) => pair.variant / pair.baseline);
}

export type Statistic = (values: number[]) => number;

/**
 * Percentile bootstrap: resample the values with replacement `iterations` times and take the
 * (1 - level)/2 and (1 + level)/2 quantiles of the statistic. Resampling ratios resamples the pairs.
 */
export function bootstrapInterval(
  values: readonly number[],
  statistic: Statistic,
  options: { iterations?: number; seed?: number; level?: number } = {},
): Interval {
  if (values.length === 0) return { estimate: Number.NaN, low: Number.NaN, high: Number.NaN };
  const { iterations = 2000, seed = 1, level = 0.95 } = options;
  const random = seededRandom(seed);
  const sample = [...values];
  const estimates: number[] = [];
  for (let index = 0; index < iterations; index++) estimates.push(statistic(sampleWithReplacement(sample, sample.length, random)));
  const [low, high] = quantile(estimates, [(1 - level) / 2, (1 + level) / 2]) as [number, number];
  return { estimate: statistic(sample), low, high };
}

export type RatioSummary = {
  pairs: number;
  median: Interval;
  mean: Interval;
  /** True when the median's interval holds 1 (no change): the data cannot tell the variant from the baseline. */
  includesNoChange: boolean;
};

export function summariseRatios(pairs: readonly Pair[], seed = 1): RatioSummary | undefined {
  const ratios = pairedRatios(pairs);
  if (ratios.length === 0) return undefined;
  const medianInterval = bootstrapInterval(ratios, median, { seed });
  return {
    pairs: ratios.length,
    median: medianInterval,
    mean: bootstrapInterval(ratios, mean, { seed }),
    includesNoChange: medianInterval.low <= 1 && medianInterval.high >= 1,
  };
}

/** Values at or above the top-quartile cut (simple-statistics' quantile of 0.75). */
export function topQuartileCut(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : quantile([...values], 0.75);
}

export { mean, median };
