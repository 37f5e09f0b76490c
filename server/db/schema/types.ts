import { customType } from "drizzle-orm/pg-core";

/** Postgres full-text search vector; only ever written by generated columns. */
export const tsvector = customType<{ data: string }>({
  dataType() {
    return "tsvector";
  },
});

/**
 * Postgres 64-bit transaction id (pg_current_xact_id()). Read and written as a decimal string: the
 * values pass 2^53 on a long-lived server, which a JavaScript number cannot hold exactly.
 */
export const xid8 = customType<{ data: string; driverData: string }>({
  dataType() {
    return "xid8";
  },
});
