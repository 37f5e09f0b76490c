export function mergeIntervals(intervals) {
  for (const [start, end] of intervals) if (start > end) throw new RangeError(`[${start}, ${end}] is reversed`);
  const sorted = intervals.map(([start, end]) => [start, end]).sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const pair of sorted) {
    const last = merged.at(-1);
    if (last && pair[0] <= last[1]) last[1] = Math.max(last[1], pair[1]);
    else merged.push(pair);
  }
  return merged;
}
