export function compareVersions(a, b) {
  throw new Error("not implemented");
}

export function sortVersions(list) {
  throw new Error("not implemented");
}
