import type { Db } from "./client.ts";

/**
 * Prepared statements for the busiest queries (the feed, posting), one per database and shape (which
 * filters or optional columns a call has): drizzle builds their SQL once, and Postgres parses and
 * plans them once per connection instead of on every request.
 */
export function preparedPerShape<Shape extends Record<string, boolean>, Query>(prepare: (db: Db, shape: Shape, name: string) => Query) {
  const byDb = new WeakMap<Db, Map<string, Query>>();
  return {
    get(db: Db, shape: Shape): Query {
      const queries = byDb.get(db) ?? new Map<string, Query>();
      byDb.set(db, queries);
      const name = Object.entries(shape)
        .map(([filter, on]) => (on ? filter : ""))
        .join("_");
      const cached = queries.get(name);
      if (cached) return cached;
      const query = prepare(db, shape, name);
      queries.set(name, query);
      return query;
    },
  };
}
