/**
 * PGlite's queries as named statements, each SQL text parsed and planned once.
 *
 * PGlite's own `query` sends every statement unnamed, in five calls into the engine (parse, describe
 * the statement, bind, describe the portal, execute), so Postgres parses and plans it anew each time:
 * measured in process, a feed page took 366 µs that way and 124 µs as a named statement run in one
 * call, `select 1` 149 and 22 µs (docs/decisions/055-pglite-named-statements.md). Here the first
 * run of a text parses it under a name and learns its parameters' types; every run binds, describes
 * its rows, executes and syncs in one call. Results are parsed and values serialised by PGlite's
 * own functions, so rows come back as its `query` gives them.
 */
import { type PGlite, type ParserOptions, parse, protocol, type QueryOptions, type Results, type Transaction } from "@electric-sql/pglite";

type Statement = { name: string; parameterTypes: number[] };

/** Statements kept per database; the least recently used is closed past this many. */
const statementsKept = 500;

/** Postgres refuses to run a named statement whose result columns a schema change altered. */
const resultTypeChanged = "cached plan must not change result type";

/** The PGlite client that drizzle gets: `query`, in a transaction too, runs named statements. */
export function withNamedStatements(client: PGlite): PGlite {
  const statements = namedStatements(client);
  const transaction: PGlite["transaction"] = (run) =>
    client.transaction((tx) =>
      run(
        Object.assign(Object.create(tx) as Transaction, {
          query: <Row>(text: string, params?: unknown[], options?: QueryOptions) => statements.query<Row>(text, params, options, tx),
        }),
      ),
    );
  return new Proxy(client, {
    get(target, property) {
      if (property === "query") return statements.query;
      if (property === "transaction") return transaction;
      // PGlite keeps its state in private fields: its methods run on the client itself.
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The named-statement `query` of one PGlite client. */
function namedStatements(client: PGlite) {
  const statements = new Map<string, Statement>();
  let named = 0;

  async function prepare(text: string, options: QueryOptions | undefined): Promise<Statement> {
    const known = statements.get(text);
    if (known) {
      // Most recently used last: the map's order is the order to close them in.
      statements.delete(text);
      statements.set(text, known);
      return known;
    }
    const name = `botboard_${++named}`;
    const described = await client.execProtocolStream(
      joined([
        protocol.serialize.parse({ name, text, types: options?.paramTypes }),
        protocol.serialize.describe({ type: "S", name }),
        protocol.serialize.sync(),
      ]),
      { syncToFs: false },
    );
    const statement = { name, parameterTypes: parse.parseDescribeStatementResults(described) };
    statements.set(text, statement);
    if (statements.size > statementsKept) await forget(statements.keys().next().value as string);
    return statement;
  }

  async function forget(text: string): Promise<void> {
    const statement = statements.get(text);
    if (!statement) return;
    statements.delete(text);
    await client.execProtocolStream(joined([protocol.serialize.close({ type: "S", name: statement.name }), protocol.serialize.sync()]), {
      syncToFs: false,
    });
  }

  async function run<Row>(text: string, params: unknown[], options: QueryOptions | undefined): Promise<Results<Row>> {
    const statement = await prepare(text, options);
    // As PGlite's `query` serialises a value: by the type Postgres expects for it.
    const values = params.map((value, index) => {
      if (value === null || value === undefined) return null;
      const type = statement.parameterTypes[index] as number;
      const serialize = options?.serializers?.[type] ?? client.serializers[type];
      return serialize ? serialize(value) : String(value);
    });
    const messages = await client.execProtocolStream(
      joined([
        protocol.serialize.bind({ statement: statement.name, values }),
        protocol.serialize.describe({ type: "P" }),
        protocol.serialize.execute({}),
        protocol.serialize.sync(),
      ]),
      { syncToFs: false, onNotice: options?.onNotice },
    );
    const parsers = options?.parsers ? parsersWith(options.parsers) : client.parsers;
    return parse.parseResults(messages, parsers, { ...options, parsers: undefined })[0] as Results<Row>;
  }

  /**
   * PGlite's parsers with a query's own over them, merged once: `parseResults` copies PGlite's whole
   * table (every type it knows) for each query that brings parsers, as drizzle's all do, which was an
   * eighth of a caught-up `/unread`. Drizzle builds new, identical parsers for each query, so they are
   * known by each one's type and source. PGlite's table changes only in `refreshArrayTypes`, which
   * Botboard never calls.
   */
  const mergedParsers = new Map<string, PGlite["parsers"]>();
  function parsersWith(own: ParserOptions): PGlite["parsers"] {
    const key = Object.entries(own)
      .map(([type, parser]) => `${type}:${String(parser)}`)
      .join("\n");
    let merged = mergedParsers.get(key);
    if (!merged) {
      merged = { ...client.parsers, ...own };
      mergedParsers.set(key, merged);
    }
    return merged;
  }

  async function runOnce<Row>(text: string, params: unknown[], options: QueryOptions | undefined): Promise<Results<Row>> {
    try {
      return await run<Row>(text, params, options);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes(resultTypeChanged)) throw withQuery(error, text, params, options);
      await forget(text);
      return run<Row>(text, params, options).catch((again: unknown) => {
        throw withQuery(again, text, params, options);
      });
    }
  }

  /**
   * PGlite's `query`. Outside a transaction it waits for any transaction to end and writes the
   * database's files after, as PGlite's does; `inTransaction` is the transaction it runs in.
   */
  async function query<Row>(text: string, params: unknown[] = [], options?: QueryOptions, inTransaction?: Transaction) {
    if (inTransaction) {
      if (inTransaction.closed) throw new Error("Transaction is closed");
      return client._runExclusiveQuery(() => runOnce<Row>(text, params, options));
    }
    // Refuses a query once the database is closing or closed, as PGlite's does.
    await client._checkReady();
    const result = await client._runExclusiveTransaction(() => client._runExclusiveQuery(() => runOnce<Row>(text, params, options)));
    await client.syncToFs();
    return result;
  }

  return { query };
}

function joined(messages: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(messages.reduce((length, message) => length + message.length, 0));
  let offset = 0;
  for (const message of messages) {
    all.set(message, offset);
    offset += message.length;
  }
  return all;
}

/** As PGlite's `query` marks a failed query's error, for the logs. */
function withQuery(error: unknown, text: string, params: unknown[], options: QueryOptions | undefined): unknown {
  if (error instanceof Error) Object.assign(error, { query: text, params, queryOptions: options });
  return error;
}
