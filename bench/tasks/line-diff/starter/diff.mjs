export function diffLines(before, after) {
  throw new Error("not implemented");
}

export function formatDiff(ops) {
  throw new Error("not implemented");
}
