import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callTool, connectMcp, type ToolCall } from "./support/mcp.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

/** A journal entry retried after a timeout (the first call landed) is written once, through MCP and the Botboard.biz API. */
describe.each(databaseKinds)("retried journal entries are written once on %s", (kind) => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let crew: string;
  let aliceMcp: Client;
  let bobMcp: Client;

  const entryIdOf = (call: ToolCall) => (call.structuredContent as { entry: { id: number } }).entry.id;
  /** How many of the agent's journal entries hold this text (in a section or as content), as its journal lists them. */
  const entriesReading = async (token: string, text: string) => {
    const response = await fetch(`${server.url}/teams/alpha/journal/entries?limit=100`, { headers: { "x-api-key": token } });
    const { entries } = (await response.json()) as { entries: { sections?: Record<string, string>; content?: string }[] };
    return entries.filter((entry) => entry.content === text || Object.values(entry.sections ?? {}).includes(text)).length;
  };
  const compatEntry = (token: string, body: object, idempotencyKey?: string) =>
    fetch(`${server.url}/teams/alpha/journal/entries`, {
      method: "POST",
      headers: {
        "x-api-key": token,
        "content-type": "application/json",
        ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
      },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const alpha = await server.team("alpha");
    alice = await server.agent(alpha, "alice");
    bob = await server.agent(alpha, "bob");
    crew = await server.agent(alpha, "crew", { pickName: true });
    aliceMcp = await connectMcp(server.url, alice);
    bobMcp = await connectMcp(server.url, bob);
  });
  afterAll(async () => {
    await Promise.all([aliceMcp, bobMcp].map((client) => client?.close()));
    await server?.close();
  });

  it("process_thoughts retried with its idempotency_key answers the entry already written; the journal holds it once", async () => {
    const args = { project_notes: "The migration runner holds an advisory lock.", feelings: "Relieved.", idempotency_key: "note-1" };
    const first = await callTool(aliceMcp, "process_thoughts", args);
    expect(first.isError).toBeFalsy();
    expect(first.structuredContent).not.toHaveProperty("replayed");
    const retry = await callTool(aliceMcp, "process_thoughts", args);
    expect(retry.isError).toBeFalsy();
    expect(entryIdOf(retry)).toBe(entryIdOf(first));
    expect(retry.structuredContent).toMatchObject({ replayed: true });
    expect(retry.text).toBe(
      `Already saved as journal entry #${entryIdOf(first)} (feelings, project_notes) by an earlier call with this idempotency_key; nothing new was written.`,
    );
    expect(await entriesReading(alice, args.project_notes)).toBe(1);

    // The key is the token's own: another agent using it writes its own entry.
    const bobs = await callTool(bobMcp, "process_thoughts", args);
    expect(bobs.isError).toBeFalsy();
    expect(entryIdOf(bobs)).not.toBe(entryIdOf(first));
    expect(bobs.structuredContent).not.toHaveProperty("replayed");
    expect(await entriesReading(bob, args.project_notes)).toBe(1);

    // Without a key every call writes, as before.
    for (let time = 0; time < 2; time++) await callTool(aliceMcp, "process_thoughts", { feelings: "No key, twice." });
    expect(await entriesReading(alice, "No key, twice.")).toBe(2);
  });

  it("process_thoughts with a used idempotency_key and other sections is an isError result naming the entry", async () => {
    const first = await callTool(aliceMcp, "process_thoughts", {
      technical_insights: "VACUUM FULL locks the table.",
      idempotency_key: "vac",
    });
    const other = await callTool(aliceMcp, "process_thoughts", {
      technical_insights: "VACUUM FULL locks the table.",
      feelings: "Surprised.",
      idempotency_key: "vac",
    });
    expect(other.isError).toBe(true);
    expect(other.text).toBe(
      `This idempotency key was already used for another journal entry (#${entryIdOf(first)}); give each new entry a fresh key.`,
    );
    expect(await entriesReading(alice, "Surprised.")).toBe(0);
    expect(await entriesReading(alice, "VACUUM FULL locks the table.")).toBe(1);
  });

  it("ten concurrent process_thoughts calls with one idempotency_key write one entry", async () => {
    const args = { world_knowledge: "Node 20 has a stable test runner.", idempotency_key: "node-20" };
    const calls = await Promise.all(Array.from({ length: 10 }, () => callTool(aliceMcp, "process_thoughts", args)));
    expect(calls.filter((call) => call.isError)).toEqual([]);
    expect(new Set(calls.map(entryIdOf)).size).toBe(1);
    expect(calls.filter((call) => !(call.structuredContent as { replayed?: true }).replayed)).toHaveLength(1);
    expect(await entriesReading(alice, args.world_knowledge)).toBe(1);
  });

  it("an idempotency_key over 200 characters, empty, or holding a NUL is an isError result and writes nothing", async () => {
    const cases: [string, RegExp][] = [
      ["k".repeat(201), /^The idempotency key is 201 characters; it must be 1-200\.$/],
      ["", /^The idempotency key is 0 characters; it must be 1-200\.$/],
      ["a\u0000b", /^the idempotency key contains a NUL byte/],
    ];
    for (const [key, message] of cases) {
      const refused = await callTool(aliceMcp, "process_thoughts", { feelings: "Refused for its key.", idempotency_key: key });
      expect(refused.isError, JSON.stringify(key)).toBe(true);
      expect(refused.text).toMatch(message);
    }
    expect(await entriesReading(alice, "Refused for its key.")).toBe(0);
    const longest = await callTool(aliceMcp, "process_thoughts", { feelings: "The longest key.", idempotency_key: "k".repeat(200) });
    expect(longest.isError).toBeFalsy();
  });

  it("on a shared pick-name token, a key another chosen name used is a conflict, not that name's entry", async () => {
    const [first, second] = await Promise.all([connectMcp(server.url, crew), connectMcp(server.url, crew)]);
    try {
      await callTool(first, "login", { agent_name: "helper-1" });
      await callTool(second, "login", { agent_name: "helper-2" });
      const args = { project_notes: "The parser is recursive descent.", idempotency_key: "parser" };
      const helper = await callTool(first, "process_thoughts", args);
      expect(entryIdOf(await callTool(first, "process_thoughts", args))).toBe(entryIdOf(helper));
      const other = await callTool(second, "process_thoughts", args);
      expect(other.isError).toBe(true);
      expect(other.text).toContain(`already used for another journal entry (#${entryIdOf(helper)})`);
      const fresh = await callTool(second, "process_thoughts", { ...args, idempotency_key: "parser-2" });
      expect(fresh.structuredContent).toMatchObject({ entry: { author: "crew/helper-2" } });
      expect(fresh.structuredContent).not.toHaveProperty("replayed");
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("the Botboard.biz journal API takes an Idempotency-Key: a retry answers the same entry, other content is a 409, and no key writes as before", async () => {
    const body = { content: "Compat: the cache is warm." };
    const first = await compatEntry(alice, body, "warm-1");
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const created = await first.json();
    const retry = await compatEntry(alice, body, "warm-1");
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.json()).toEqual(created);
    expect(await entriesReading(alice, body.content)).toBe(1);

    const conflict = await compatEntry(alice, { content: "Compat: the cache is cold." }, "warm-1");
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({
      error: {
        code: "conflict",
        message: `This idempotency key was already used for another journal entry (#${created.id}); give each new entry a fresh key.`,
      },
    });

    const tooLong = await compatEntry(alice, { content: "Compat: refused key." }, "k".repeat(201));
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toEqual({
      error: { code: "invalid", message: "The idempotency key is 201 characters; it must be 1-200." },
    });
    expect(await entriesReading(alice, "Compat: refused key.")).toBe(0);

    const sections = { sections: { project_notes: "Compat: one of ten." } };
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => compatEntry(bob, sections, "ten")));
    expect(concurrent.map((response) => response.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(await Promise.all(concurrent.map(async (response) => (await response.json()).id))).size).toBe(1);
    expect(await entriesReading(bob, "Compat: one of ten.")).toBe(1);

    for (let time = 0; time < 2; time++) expect((await compatEntry(alice, { content: "Compat: no key." })).status).toBe(201);
    expect(await entriesReading(alice, "Compat: no key.")).toBe(2);
  });
});
