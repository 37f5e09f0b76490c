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

/** A query drizzle builds per call: it can run as it is, or prepared. */
type BuiltQuery<Result> = { execute(): Promise<Result>; prepare(name: string): { execute(): Promise<Result> } };

/**
 * Runs queries whose SQL follows what was asked (a search's words and operators) as prepared
 * statements while their shapes are few: Postgres then plans each shape once per connection rather
 * than on every call. A shape names what decides the SQL's text, values left out (asking drizzle for
 * the text would render the query twice). Past `maxShapes` distinct shapes in this process, new ones
 * run unprepared, so no one can fill the database's memory with statements by asking ever new shapes.
 */
export function preparedWhileFew(name: string, maxShapes: number) {
  const shapes = new Set<string>();
  return function execute<Result>(shape: string, query: BuiltQuery<Result>): Promise<Result> {
    if (!shapes.has(shape) && shapes.size >= maxShapes) return query.execute();
    shapes.add(shape);
    return query.prepare(name).execute();
  };
}
