import { errorFunction, mean, median, quantileSorted } from "simple-statistics";

/**
 * The benchmark's statistics, as pure functions: Wilson intervals for pass rates, paired ratios
 * against the baseline with cluster-bootstrap intervals over tasks from a seeded generator (so a
 * report computed twice from the same trials says exactly the same thing), the spread of the
 * ratios within and between tasks, and the repeats a change of a given size would need.
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
  // Every trial passed (or none): the bound is 1 (or 0) exactly, which rounding in the sum above can miss
  // by one bit, and a report would read 100.000%.
  return {
    estimate: rate,
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === trials ? 1 : Math.min(1, centre + half),
  };
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

export type Statistic = (values: number[]) => number;

/** A paired ratio's task: pairs of one task share its difficulty and its effect, so they are resampled together. */
export type TaskPair = Pair & { task: string };

/** Resamples of a report's cluster bootstrap. */
export const bootstrapResamples = 2000;

/** Below this many tasks a bootstrap over tasks cannot say how much the tasks vary: no interval is given. */
export const minimumTasksForInterval = 5;

const normalCdf = (x: number) => 0.5 * (1 + errorFunction(x / Math.SQRT2));

/** The x where an increasing `cdf` reaches p, by bisection: exact to the cdf's own accuracy, and called a few times per report. */
function inverse(cdf: (x: number) => number, p: number, low: number, high: number): number {
  while (cdf(high) < p) high *= 2;
  while (cdf(low) > p) low *= 2;
  for (let step = 0; step < 200 && high - low > 1e-12 * Math.max(1, Math.abs(low)); step++) {
    const middle = (low + high) / 2;
    if (cdf(middle) < p) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * The standard normal quantile. simple-statistics' probit is off by 3e-3 at 0.975 (1.9572, not
 * 1.9600), which moved every interval's level and the power note; errorFunction is good to 1e-7.
 */
export function normalQuantile(p: number): number {
  return inverse(normalCdf, p, -1, 1);
}

/** Student's t distribution function for whole degrees of freedom, in closed form (Abramowitz & Stegun 26.7.3 and 26.7.4). */
function tCdf(t: number, degreesOfFreedom: number): number {
  const angle = Math.atan(Math.abs(t) / Math.sqrt(degreesOfFreedom));
  const cosineSquared = Math.cos(angle) ** 2;
  const odd = degreesOfFreedom % 2 === 1;
  let term = odd ? Math.cos(angle) : 1;
  let series = odd && degreesOfFreedom === 1 ? 0 : term;
  for (let power = odd ? 3 : 2; power <= degreesOfFreedom - 2; power += 2) {
    term *= (cosineSquared * (power - 1)) / power;
    series += term;
  }
  const central = odd ? (2 / Math.PI) * (angle + Math.sin(angle) * series) : Math.sin(angle) * series;
  return t >= 0 ? (1 + central) / 2 : (1 - central) / 2;
}

/** Student's t quantile for whole degrees of freedom (a cluster count less one), exact to 1e-9. */
export function tQuantile(p: number, degreesOfFreedom: number): number {
  return inverse((t) => tCdf(t, degreesOfFreedom), p, -1, 1);
}

/**
 * The tail probability an expanded percentile interval (Hesterberg 2015) reads from the bootstrap
 * distribution: a plain percentile interval over n clusters is too narrow for small n (it divides
 * by n, not n - 1, and uses z, not t), so it is widened to what a t interval would give.
 */
export function expandedTail(level: number, clusters: number): number {
  const alpha = 1 - level;
  return normalCdf(-Math.sqrt(clusters / (clusters - 1)) * tQuantile(1 - alpha / 2, clusters - 1));
}

/**
 * Cluster bootstrap: draws as many clusters as there are, with replacement, pools their values and
 * computes each statistic; returns each statistic's estimates sorted. Values of one cluster (the
 * pairs of one task) always travel together, so the interval reflects how much tasks differ.
 */
export function clusterBootstrap(
  clusters: readonly (readonly number[])[],
  statistics: readonly Statistic[],
  options: { iterations?: number; seed?: number } = {},
): number[][] {
  const { iterations = bootstrapResamples, seed = 1 } = options;
  const random = seededRandom(seed);
  const estimates = statistics.map(() => new Array<number>(iterations));
  for (let iteration = 0; iteration < iterations; iteration++) {
    const pooled: number[] = [];
    for (let draw = 0; draw < clusters.length; draw++) pooled.push(...clusters[Math.floor(random() * clusters.length)]!);
    statistics.forEach((statistic, index) => {
      estimates[index]![iteration] = statistic(pooled);
    });
  }
  return estimates.map((values) => values.sort((a, b) => a - b));
}

/** The interval a sorted bootstrap distribution gives at `level` over `clusters` clusters (expanded percentile). */
export function clusterInterval(sortedEstimates: readonly number[], estimate: number, clusters: number, level = 0.95): Interval {
  const tail = expandedTail(level, clusters);
  return { estimate, low: quantileSorted(sortedEstimates, tail), high: quantileSorted(sortedEstimates, 1 - tail) };
}

/** How log ratios spread: between tasks (the tasks' own effects) and within a task (repeat to repeat), as variances. */
export type Spread = { betweenTasks: number; withinTask: number | null; tasks: number; meanRepeats: number };

/**
 * One-way random-effects variance components of the log ratios, grouped by task: the within-task
 * variance pooled over tasks, and the between-task variance left once the repeats' noise is taken
 * out of the variance of the task means (never below 0).
 */
export function logRatioSpread(groups: readonly (readonly number[])[]): Spread | undefined {
  const logs = groups.map((ratios) => ratios.filter((ratio) => ratio > 0).map(Math.log)).filter((group) => group.length > 0);
  if (logs.length === 0) return undefined;
  const means = logs.map((group) => mean(group));
  const degrees = logs.reduce((total, group) => total + group.length - 1, 0);
  const squares = logs.reduce((total, group, index) => total + group.reduce((sum, value) => sum + (value - means[index]!) ** 2, 0), 0);
  const withinTask = degrees > 0 ? squares / degrees : null;
  const harmonicRepeats = logs.length / logs.reduce((total, group) => total + 1 / group.length, 0);
  const grand = mean(means);
  const ofMeans = logs.length > 1 ? means.reduce((total, value) => total + (value - grand) ** 2, 0) / (logs.length - 1) : 0;
  return {
    betweenTasks: Math.max(0, ofMeans - (withinTask ?? 0) / harmonicRepeats),
    withinTask,
    tasks: logs.length,
    meanRepeats: logs.reduce((total, group) => total + group.length, 0) / logs.length,
  };
}

/** The changes the power note is given for: a 10%, 15% and 25% saving. */
export const powerChanges = [0.1, 0.15, 0.25] as const;

export type PowerEstimate = {
  change: number;
  /** Repeats of every task that detect the change (80% power, 5% two-sided); null when no number of repeats can at this many tasks. */
  repeats: number | null;
  /** With `repeats` null: the tasks needed at the run's mean pairs per task (rounded). */
  tasks: number | null;
};

/**
 * Repeats needed to detect a change of `change` in the mean log ratio, with 80% power at the 5%
 * level, given the observed spread: the mean over T tasks of R repeats has variance
 * (between + within / R) / T, so between-task variance sets a floor more repeats cannot lower.
 */
export function repeatsNeeded(spread: Spread, change: number, options: { alpha?: number; power?: number } = {}): PowerEstimate {
  const { alpha = 0.05, power = 0.8 } = options;
  const target = (Math.abs(Math.log(1 - change)) / (normalQuantile(1 - alpha / 2) + normalQuantile(power))) ** 2;
  const within = spread.withinTask ?? 0;
  const room = spread.tasks * target - spread.betweenTasks;
  if (room <= 0) {
    const tasks = Math.ceil((spread.betweenTasks + within / Math.max(1, Math.round(spread.meanRepeats))) / target);
    return { change, repeats: null, tasks };
  }
  return { change, repeats: Math.max(1, Math.ceil(within / room)), tasks: null };
}

export type RatioSummary = {
  pairs: number;
  tasks: number;
  /** Undefined below `minimumTasksForInterval` tasks: too few tasks for an interval. */
  median?: Interval;
  mean?: Interval;
  /** The median with no interval, when there are too few tasks for one. */
  estimate: number;
  /** True when the median's interval holds 1 (no change), or there is no interval: the data cannot tell the variant from the baseline. */
  includesNoChange: boolean;
  /** The median's interval at the family-wise level, when the report makes several primary comparisons (Bonferroni). */
  familywise?: { level: number; median: Interval; includesNoChange: boolean };
  /** How the intervals were drawn, so they can be drawn again: the generator's seed, the resamples, and the tail read at each end of the 95% interval. */
  bootstrap?: { seed: number; resamples: number; tail: number };
  spread?: Spread;
};

const holdsOne = (interval: Interval) => interval.low <= 1 && interval.high >= 1;

/**
 * Paired ratios against the baseline, with cluster-bootstrap intervals over tasks. `comparisons` is
 * the number of primary comparisons the report makes (one per variant): above one, the median's
 * interval is also given at the Bonferroni level 1 - 0.05 / comparisons.
 */
export function summariseRatios(
  pairs: readonly TaskPair[],
  seed = 1,
  options: { comparisons?: number; iterations?: number } = {},
): RatioSummary | undefined {
  const byTask = new Map<string, number[]>();
  for (const pair of pairs) {
    if (pair.baseline <= 0) continue;
    byTask.set(pair.task, [...(byTask.get(pair.task) ?? []), pair.variant / pair.baseline]);
  }
  // Tasks in name order: the resampling draws by position, so the order must not depend on the input's.
  const clusters = [...byTask.keys()].sort().map((task) => byTask.get(task)!);
  const ratios = clusters.flat();
  if (ratios.length === 0) return undefined;
  const estimate = median(ratios);
  const summary: RatioSummary = {
    pairs: ratios.length,
    tasks: clusters.length,
    estimate,
    includesNoChange: true,
    spread: logRatioSpread(clusters),
  };
  if (clusters.length < minimumTasksForInterval) return summary;
  const resamples = options.iterations ?? bootstrapResamples;
  const [medians, means] = clusterBootstrap(clusters, [median, mean], { seed, iterations: resamples }) as [number[], number[]];
  summary.bootstrap = { seed, resamples, tail: expandedTail(0.95, clusters.length) };
  summary.median = clusterInterval(medians, estimate, clusters.length);
  summary.mean = clusterInterval(means, mean(ratios), clusters.length);
  summary.includesNoChange = holdsOne(summary.median);
  const comparisons = options.comparisons ?? 1;
  if (comparisons > 1) {
    const level = 1 - 0.05 / comparisons;
    const familywise = clusterInterval(medians, estimate, clusters.length, level);
    summary.familywise = { level, median: familywise, includesNoChange: holdsOne(familywise) };
  }
  return summary;
}

/**
 * The study's hard tasks: those whose mean baseline cost is above the mean over tasks of that cost.
 * Chosen on the same trials that form the ratios, this favours tasks whose baseline happened to run
 * expensive, which makes the variant look cheaper there (regression to the mean): fix the set in
 * advance (task metadata, or a separate calibration run) for a fair comparison.
 */
export function aboveMeanCost(costsByTask: ReadonlyMap<string, readonly number[]>): string[] {
  const means = [...costsByTask.entries()]
    .filter(([, costs]) => costs.length > 0)
    .map(([task, costs]) => [task, mean([...costs])] as const);
  if (means.length === 0) return [];
  const cut = mean(means.map(([, cost]) => cost));
  return means
    .filter(([, cost]) => cost > cut)
    .map(([task]) => task)
    .sort();
}

export { mean, median };
