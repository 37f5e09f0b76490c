export function checksum(fields) {
  throw new Error("not implemented");
}

export function formatRecord(record) {
  throw new Error("not implemented");
}
