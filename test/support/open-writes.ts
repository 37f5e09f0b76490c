import type postgres from "postgres";

/**
 * Begins a transaction with `begin` that runs `first` and then stays open: resolves once `first` has
 * run, to a function that lets the transaction end and waits for it.
 */
export async function holdTransactionOpen<Transaction>(
  begin: (body: (tx: Transaction) => Promise<void>) => Promise<unknown>,
  first: (tx: Transaction) => Promise<unknown>,
): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const held = new Promise<void>((resolve) => (holding = resolve));
  const done = begin(async (tx) => {
    await first(tx);
    holding();
    await released;
  });
  await held;
  return async () => {
    release();
    await done;
  };
}

/**
 * Opens a transaction on `client` that holds a transaction id, as a write does, and keeps it open:
 * it holds the delivery line of its database until the returned function ends it.
 */
export function holdWriteOpen(client: postgres.Sql): Promise<() => Promise<void>> {
  return holdTransactionOpen<postgres.TransactionSql>(
    (body) => client.begin(body),
    (tx) => tx`select pg_current_xact_id()`,
  );
}
