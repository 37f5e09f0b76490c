import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite, types, type QueryOptions } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNamedStatements } from "../server/db/pglite-statements.ts";

/**
 * PGlite's queries as named statements (server/db/pglite-statements.ts): the rows must be what
 * PGlite's own `query` gives, every text parsed once, errors and transactions as before.
 */
describe("PGlite queries as named statements", () => {
  let folder: string;
  let client: PGlite;
  let named: PGlite;
  const preparedTexts = async () =>
    (await client.query<{ statement: string }>("select statement from pg_prepared_statements order by statement")).rows.map(
      (row) => row.statement,
    );

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "botboard-named-"));
    client = await PGlite.create(join(folder, "pgdata"));
    named = withNamedStatements(client);
    await client.exec(`
      create table notes (id bigserial primary key, body text not null, tags text[] not null default '{}',
        owners uuid[] not null default '{}', meta jsonb, urgent boolean not null default false,
        created_at timestamptz not null default now(), unique (body));`);
  });
  afterAll(async () => {
    await client?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("gives the rows, fields and counts PGlite's own query gives, in both row modes and with a caller's parsers", async () => {
    const insert = "insert into notes (body, tags, owners, meta, urgent) values ($1, $2, $3, $4, $5) returning id, created_at";
    const owner = "0b9f4c1e-8a4e-4c3b-9d6a-2f1e0c7b5a11";
    const viaNamed = await named.query(insert, ["first", ["a", "b,c", 'quo"te'], [owner], { depth: { of: [1, null] } }, true]);
    const viaPglite = await client.query(insert, ["second", [], [], null, false]);
    expect(viaNamed.fields).toEqual(viaPglite.fields);
    expect(viaNamed.affectedRows).toBe(1);
    expect(typeof (viaNamed.rows[0] as { id: unknown }).id).toBe(typeof (viaPglite.rows[0] as { id: unknown }).id);

    // drizzle's options: rows as arrays, timestamps left as text.
    const drizzleLike: QueryOptions = { rowMode: "array", parsers: { [types.TIMESTAMPTZ]: (value: string) => value } };
    const reads: [string, unknown[], QueryOptions | undefined][] = [
      ["select * from notes where body = any($1) order by id", [["first", "second", "none"]], undefined],
      ["select * from notes where body = any($1) order by id", [["first", "second"]], drizzleLike],
      ["select id, tags, meta -> 'depth' as depth from notes where urgent = $1 and $2::int is null", [true, null], undefined],
      ["select count(*)::int as count, max(created_at) as newest from notes where tags && $1", [["b,c"]], drizzleLike],
      ["update notes set urgent = not urgent where id > $1", [0], undefined],
    ];
    for (const [text, params, options] of reads) {
      const [ours, theirs] = [await named.query(text, params, options), await client.query(text, params, options)];
      // The update flips the flag back and forth: compare what each changed, not what they read.
      if (text.startsWith("update")) expect(ours.affectedRows).toBe(theirs.affectedRows);
      else expect(ours).toEqual(theirs);
    }
    // Parsers for the same types that differ are each applied, as PGlite's query applies them.
    const newest = "select max(created_at) as newest from notes";
    const marked = await named.query(newest, [], { parsers: { [types.TIMESTAMPTZ]: (value: string) => `at ${value}` } });
    const plain = await named.query(newest, [], { parsers: { [types.TIMESTAMPTZ]: (value: string) => value } });
    expect(marked.rows).toEqual([{ newest: `at ${(plain.rows[0] as { newest: string }).newest}` }]);
    expect((await named.query(newest)).rows).toEqual((await client.query(newest)).rows);
    const [row] = (await named.query<{ tags: string[]; owners: string[]; meta: unknown }>("select * from notes where body = $1", ["first"]))
      .rows;
    expect(row).toMatchObject({ tags: ["a", "b,c", 'quo"te'], owners: [owner], meta: { depth: { of: [1, null] } } });
  });

  it("parses each text once, whatever values it runs with", async () => {
    const text = "select body from notes where id = $1";
    for (const id of [1, 2, 3, 1]) await named.query(text, [id]);
    expect((await preparedTexts()).filter((statement) => statement === text)).toHaveLength(1);
  });

  it("throws Postgres' error with its code and the query, and runs the next query as before", async () => {
    const insert = "insert into notes (body) values ($1)";
    await expect(named.query(insert, ["first"])).rejects.toMatchObject({ code: "23505", query: insert });
    await expect(named.query("selec body from notes", [])).rejects.toMatchObject({ code: "42601" });
    expect(await preparedTexts()).not.toContain("selec body from notes");
    expect((await named.query("select count(*)::int as count from notes")).rows).toEqual([{ count: 2 }]);
  });

  it("runs in PGlite's transactions: a rollback undoes, and a query outside waits for the transaction to end", async () => {
    const order: string[] = [];
    const transaction = named.transaction(async (tx) => {
      await tx.query("insert into notes (body) values ($1)", ["inside"]);
      order.push("inserted");
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push("rolling back");
      await tx.rollback();
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const outside = named.query("select count(*)::int as count from notes where body = $1", ["inside"]).then((result) => {
      order.push("read outside");
      return result.rows;
    });
    await transaction;
    expect(await outside).toEqual([{ count: 0 }]);
    expect(order).toEqual(["inserted", "rolling back", "read outside"]);
  });

  it("runs a statement again after a schema change altered its columns", async () => {
    const text = "select * from notes where id = $1";
    await named.query(text, [1]);
    await client.exec("alter table notes add column note_order int not null default 7");
    expect((await named.query<{ note_order: number }>(text, [1])).rows[0]?.note_order).toBe(7);
  });

  it("refuses a query once the database is closed, as PGlite's own query does", async () => {
    const other = await PGlite.create(join(folder, "closed"));
    const namedOther = withNamedStatements(other);
    await namedOther.query("select 1 as one where $1::int > 0", [1]);
    await other.close();
    await expect(namedOther.query("select 1 as one where $1::int > 0", [1])).rejects.toThrow("PGlite is closed");
  });

  it("keeps at most 500 statements, closing the least recently used", async () => {
    const kept = "select 'kept' as word where $1::int > 0";
    await named.query(kept, [1]);
    for (let index = 0; index < 520; index++) {
      await named.query(`select ${index} as n where $1::int > 0`, [1]);
      if (index % 100 === 0) await named.query(kept, [1]);
    }
    const texts = await preparedTexts();
    expect(texts.length).toBeLessThanOrEqual(500);
    expect(texts).toContain(kept);
    expect(texts).not.toContain("select 0 as n where $1::int > 0");
    expect(texts).toContain("select 519 as n where $1::int > 0");
  });
});
