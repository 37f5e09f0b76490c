export function splitCents(total, weights) {
  throw new Error("not implemented");
}
