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

/** A query drizzle built with placeholders: it can run as it is, or be prepared and then run. */
type BuiltQuery<Result> = {
  execute(values: Record<string, unknown>): Promise<Result>;
  prepare(name: string): { execute(values: Record<string, unknown>): Promise<Result> };
};

/**
 * Runs queries whose SQL follows what was asked (a search's words and operators) as prepared
 * statements while their shapes are few: drizzle renders each shape's SQL once per database, and
 * Postgres plans it once per connection, rather than both on every call. A shape names what decides
 * the SQL's text, values left out (they are placeholders). Past `maxShapes` distinct shapes in this
 * process, new ones are built and run unprepared, so no one can fill the database's memory with
 * statements by asking ever new shapes.
 */
export function preparedWhileFew<Result>(name: string, maxShapes: number) {
  const shapes = new Set<string>();
  const byDb = new WeakMap<Db, Map<string, ReturnType<BuiltQuery<Result>["prepare"]>>>();
  return function execute(db: Db, shape: string, build: (db: Db) => BuiltQuery<Result>, values: Record<string, unknown>): Promise<Result> {
    if (!shapes.has(shape) && shapes.size >= maxShapes) return build(db).execute(values);
    shapes.add(shape);
    const queries = byDb.get(db) ?? new Map();
    byDb.set(db, queries);
    let query = queries.get(shape);
    if (!query) {
      query = build(db).prepare(name);
      queries.set(shape, query);
    }
    return query.execute(values);
  };
}
