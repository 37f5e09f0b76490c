export function splitCents(total: number, weights: number[]): number[] {
  throw new Error("not implemented");
}
