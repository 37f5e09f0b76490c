export function mergeIntervals(intervals) {
  throw new Error("not implemented");
}
