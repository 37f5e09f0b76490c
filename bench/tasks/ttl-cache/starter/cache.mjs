export class TtlCache {
  constructor({ capacity, ttlMs, now = Date.now }) {
    throw new Error("not implemented");
  }
}
