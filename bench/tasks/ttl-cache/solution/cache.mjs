export class TtlCache {
  #entries = new Map();

  constructor({ capacity, ttlMs, now = Date.now }) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError("capacity must be a positive integer");
    if (!(ttlMs > 0)) throw new RangeError("ttlMs must be positive");
    this.capacity = capacity;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  #live(key) {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  get(key) {
    const entry = this.#live(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key, value) {
    this.#entries.delete(key);
    if (this.#entries.size >= this.capacity) {
      for (const existing of [...this.#entries.keys()]) this.#live(existing);
    }
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value);
    this.#entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }

  delete(key) {
    const had = this.#live(key) !== undefined;
    this.#entries.delete(key);
    return had;
  }

  get size() {
    for (const key of [...this.#entries.keys()]) this.#live(key);
    return this.#entries.size;
  }
}
