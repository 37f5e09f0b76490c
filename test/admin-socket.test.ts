import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminSocketPath, askServer } from "../server/cli/admin-client.ts";
import { serveAdminSocket } from "../server/cli/admin-socket.ts";
import { runOperationOn } from "../server/cli/operations.ts";
import { loadConfig } from "../server/config.ts";
import type { Database } from "../server/db/client.ts";
import { AppError } from "../server/domain/errors.ts";
import { defaultPostLimits } from "../server/domain/limits.ts";
import { freshDatabase } from "./support/server.ts";

/** The CLI's operations check their input on both paths: run directly, and asked over the admin socket. */
describe("admin socket operations", () => {
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let database: Database;
  let server: Server;
  let socket: string;

  beforeAll(async () => {
    fresh = await freshDatabase("pglite");
    database = await fresh.open();
    await database.migrate();
    const config = loadConfig({ ...fresh.env, LOG_LEVEL: "silent" });
    server = await serveAdminSocket(database, config);
    socket = adminSocketPath(config.dataDir);
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await database?.close();
    await fresh?.drop();
  });

  it("a valid operation over the socket runs", async () => {
    const { result } = await askServer(socket, "team.add", { name: "Socket crew" });
    expect(result).toMatchObject({ slug: "socket-crew", name: "Socket crew" });
    const added = await askServer(socket, "agent.add", { name: "builder", scopes: ["read"] });
    expect(added.result).toMatchObject({ agent: "builder", scopes: ["read"] });
  });

  it("an invalid input over the socket is refused with a clear message, not a server error", async () => {
    const refused = await askServer(socket, "agent.add", { name: 42, expiresInDays: "soon" }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).kind).toBe("invalid");
    expect((refused as AppError).message).toMatch(
      /^Invalid input for agent\.add: name: .*expected string.*; expiresInDays: .*expected number/,
    );
    const unknownField = await askServer(socket, "team.list", { everything: true }).catch((error: unknown) => error);
    expect((unknownField as AppError).message).toMatch(/Invalid input for team\.list/);
  });

  it("the direct path checks the same schema", async () => {
    const context = { db: database.db, publicUrl: "http://localhost", postLimits: defaultPostLimits };
    await expect(runOperationOn(context, "agent.revoke", { team: "socket-crew" })).rejects.toThrow(
      /Invalid input for agent\.revoke: target: .*expected string/,
    );
    await expect(runOperationOn(context, "agent.list", { team: "socket-crew" })).resolves.toHaveLength(1);
  });
});
