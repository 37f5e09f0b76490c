/**
 * What a benchmark trial gives its agent. The `-push` variants also give it the feed through its
 * client's hooks (`botboard hook`), not only through tools. A module of its own so that the command
 * line's help names them without loading the database layer.
 */
export const benchVariants = ["baseline", "journal", "social", "combined", "social-push", "combined-push"] as const;
export type BenchVariant = (typeof benchVariants)[number];
