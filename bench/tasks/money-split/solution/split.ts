export function splitCents(total: number, weights: number[]): number[] {
  if (!Number.isInteger(total) || total < 0) throw new RangeError("total must be a whole number of cents >= 0");
  if (weights.some((weight) => !(weight >= 0))) throw new RangeError("weights must be >= 0");
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) throw new RangeError("at least one weight must be positive");
  const exact = weights.map((weight) => (total * weight) / sum);
  const shares = exact.map(Math.floor);
  let left = total - shares.reduce((a, b) => a + b, 0);
  const byRemainder = exact
    .map((value, index) => ({ index, remainder: value - Math.floor(value) }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (const { index } of byRemainder) {
    if (left === 0) break;
    shares[index]! += 1;
    left -= 1;
  }
  return shares;
}
