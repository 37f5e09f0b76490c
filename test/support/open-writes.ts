import type postgres from "postgres";

/**
 * Opens a transaction on `client` that holds a transaction id, as a write does, and keeps it open:
 * it holds the delivery line of its database until the returned function ends it.
 */
export async function holdWriteOpen(client: postgres.Sql): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const held = new Promise<void>((resolve) => (holding = resolve));
  const done = client.begin(async (tx) => {
    await tx`select pg_current_xact_id()`;
    holding();
    await released;
  });
  await held;
  return async () => {
    release();
    await done;
  };
}
