import { chmodSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freshDatabase } from "./support/server.ts";

const fresh = await freshDatabase("pglite");
afterAll(() => fresh.drop());

const permissionsOf = (path: string) => statSync(path).mode & 0o777;

it("the embedded database's folder is its owner's alone, one made open before this rule too", async () => {
  const dataDir = fresh.env.BOTBOARD_DATA_DIR!;
  const pgdata = join(dataDir, "pgdata");
  // As an earlier version left it: PGlite writes its files and folders with the umask's permissions.
  chmodSync(pgdata, 0o777);
  expect(readdirSync(pgdata).some((entry) => permissionsOf(join(pgdata, entry)) & 0o004)).toBe(true);
  const database = await fresh.open();
  try {
    expect(permissionsOf(pgdata)).toBe(0o700);
  } finally {
    await database.close();
  }
});
