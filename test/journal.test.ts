import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticateAgentToken } from "../server/domain/agents.ts";
import type { AgentCaller, HumanCaller } from "../server/domain/callers.ts";
import { createJournalEntry, getJournalEntry, listJournalEntries, searchJournal } from "../server/domain/journal.ts";
import { matchEnd, matchScanChars, matchStart } from "../server/domain/search-snippets.ts";
import type { Team } from "../server/domain/teams.ts";
import { databaseKinds, startTestServer, type TestServer } from "./support/server.ts";

const limits = { maxPostChars: 1000 };

describe.each(databaseKinds)("journal service on %s", (kind) => {
  let server: TestServer;
  let alpha: Team;
  let alice: AgentCaller;
  let bob: AgentCaller;
  let eve: AgentCaller;
  const engineerOf = (team: Team): HumanCaller => ({
    kind: "human",
    teamId: team.id,
    userId: "00000000-0000-0000-0000-000000000000",
    username: "lead",
    displayName: "lead",
    role: "member",
  });

  beforeAll(async () => {
    server = await startTestServer(kind);
    alpha = await server.team("alpha");
    const beta = await server.team("beta");
    const db = server.database.db;
    alice = await authenticateAgentToken(db, await server.agent(alpha, "alice"));
    bob = await authenticateAgentToken(db, await server.agent(alpha, "bob"));
    eve = await authenticateAgentToken(db, await server.agent(beta, "eve"));
    await createJournalEntry(db, alice, { sections: { project_notes: "alice notes the schema drift" } }, limits);
    await createJournalEntry(db, bob, { sections: { feelings: "bob worries about schema drift" } }, limits);
    await createJournalEntry(db, eve, { content: "eve's schema drift, in another team" }, limits);
  });
  afterAll(() => server?.close());

  it("an engineer lists and searches every agent's journal in the team, or one agent's", async () => {
    const db = server.database.db;
    const engineer = engineerOf(alpha);
    const all = await listJournalEntries(db, engineer, { limit: 10 });
    expect(all.entries.map((entry) => entry.authorName).sort()).toEqual(["alice", "bob"]);
    expect(all.total).toBe(2);
    const onlyBob = await listJournalEntries(db, engineer, { limit: 10, agentName: "bob" });
    expect(onlyBob.entries.map((entry) => entry.authorName)).toEqual(["bob"]);
    const { hits: found } = await searchJournal(db, engineer, { query: "schema drift", limit: 10 });
    expect(found.map((hit) => hit.entry.authorName).sort()).toEqual(["alice", "bob"]);
    const { hits: aliceOnly } = await searchJournal(db, engineer, { query: "schema drift", limit: 10, agentName: "alice" });
    expect(aliceOnly).toHaveLength(1);
    expect(aliceOnly[0]!.matchedSections).toEqual(["project_notes"]);
  });

  it("an engineer may read an entry of the team but not of another team; engineers cannot write one", async () => {
    const db = server.database.db;
    const [entry] = (await listJournalEntries(db, alice, { limit: 1 })).entries;
    expect((await getJournalEntry(db, engineerOf(alpha), entry!.id)).authorName).toBe("alice");
    const [eveEntry] = (await listJournalEntries(db, eve, { limit: 1 })).entries;
    await expect(getJournalEntry(db, engineerOf(alpha), eveEntry!.id)).rejects.toMatchObject({ kind: "not_found" });
    await expect(createJournalEntry(db, engineerOf(alpha), { content: "x" }, limits)).rejects.toMatchObject({ kind: "invalid" });
  });

  it("a match in a later section of a long entry, deep in a section or in a form highlights miss keeps its section's name, in the excerpt too", async () => {
    const db = server.database.db;
    const roomy = { maxPostChars: 16_000 };
    const filler = "Background detail about the rollout that nobody needs. ".repeat(90);
    expect(filler.length).toBeGreaterThan(matchScanChars);
    const { entry: later } = await createJournalEntry(
      db,
      eve,
      { sections: { project_notes: filler, technical_insights: "The zebra stripes fail." } },
      roomy,
    );
    const { entry: deep } = await createJournalEntry(
      db,
      eve,
      { sections: { feelings: "Fine.", technical_insights: `${filler}The giraffe necks fail.` } },
      roomy,
    );
    const { entry: otherForm } = await createJournalEntry(
      db,
      eve,
      { sections: { feelings: "Tired.", user_context: "The lead is happy with the plan." } },
      roomy,
    );
    const [zebra] = (await searchJournal(db, eve, { query: "zebra", limit: 5 })).hits;
    expect(zebra!.entry.id).toBe(later.id);
    expect(zebra!.matchedSections).toEqual(["technical_insights"]);
    expect(zebra!.excerpts).toEqual([{ part: "technical_insights", snippet: `The ${matchStart}zebra${matchEnd} stripes fail.` }]);
    for (const [query, entry, section] of [
      ["giraffe", deep, "technical_insights"],
      ["happiness", otherForm, "user_context"],
    ] as const) {
      const [hit] = (await searchJournal(db, eve, { query, limit: 5 })).hits;
      expect(hit!.entry.id, query).toBe(entry.id);
      expect(hit!.matchedSections, query).toEqual([section]);
      expect(
        hit!.excerpts.map((excerpt) => excerpt.part),
        query,
      ).toEqual([section]);
      expect(hit!.excerpts[0]!.snippet, query).toContain(entry.sections![section]!.slice(0, 40));
    }
  });

  it("type filters by the kind of section: project or user", async () => {
    const db = server.database.db;
    const engineer = engineerOf(alpha);
    expect((await listJournalEntries(db, engineer, { limit: 10, kind: "project" })).entries.map((e) => e.authorName)).toEqual(["alice"]);
    expect((await listJournalEntries(db, engineer, { limit: 10, kind: "user" })).entries.map((e) => e.authorName)).toEqual(["bob"]);
  });
});
