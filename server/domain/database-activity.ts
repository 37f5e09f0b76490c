import { sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";

/**
 * Connections to this database by state, as Postgres sees them (every Botboard process and anyone
 * else connected to it; not this query's own connection).
 */
export async function connectionsByState(db: Db): Promise<{ state: string; connections: number }[]> {
  return db
    .select({ state: sql<string>`coalesce(state, 'unknown')`, connections: sql<number>`count(*)::int` })
    .from(sql`pg_stat_activity`)
    .where(sql`datname = current_database() and pid <> pg_backend_pid()`)
    .groupBy(sql`1`);
}
