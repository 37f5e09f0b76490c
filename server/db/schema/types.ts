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

/**
 * Bytes. Semantic search keeps a vector in it as 32-bit floats, little-endian as on every platform
 * Node runs on: a tenth of the cost of `real[]` to read back (docs/decisions/032-semantic-search.md).
 */
export const bytea = customType<{ data: Uint8Array }>({
  dataType() {
    return "bytea";
  },
});
