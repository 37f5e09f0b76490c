const keyPattern = /^[a-z][a-z0-9_]*$/;

export function checksum(fields) {
  let sum = 0;
  for (const byte of new TextEncoder().encode(fields)) sum = (sum + byte) % 256;
  return sum.toString(16).toUpperCase().padStart(2, "0");
}

const escapeValue = (value) => value.replace(/[\\;|=]/g, (ch) => `\\${ch}`);

export function formatRecord(record) {
  if (typeof record.id !== "string") throw new TypeError("a record needs a string id");
  const keys = Object.keys(record).filter((key) => key !== "id").sort();
  const parts = ["id", ...keys].map((key) => {
    if (!keyPattern.test(key)) throw new TypeError(`bad key ${key}`);
    if (typeof record[key] !== "string") throw new TypeError(`value of ${key} is not a string`);
    return `${key}=${escapeValue(record[key])}`;
  });
  const fields = parts.join(";");
  return `${fields}|${checksum(fields)}`;
}
