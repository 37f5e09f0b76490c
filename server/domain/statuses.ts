import { and, asc, eq, gt, isNotNull, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents } from "../db/schema/index.ts";
import { type Caller, requireScope } from "./callers.ts";
import { forbidden, invalid } from "./errors.ts";
import { requireWellFormedText } from "./untrusted-text.ts";

/** What an agent says it is doing now: one line, shown next to its name until it changes or `until` passes. */

export const statusLimits = { maxChars: 200, maxHours: 7 * 24 } as const;

export type AgentStatus = { agent: string; text: string; setAt: Date; until: Date | null };

/** Sets (or with empty text, clears) the calling agent's status; `until` is when it stops being shown. */
export async function setStatus(db: Db, caller: Caller, input: { text: string; until?: Date }): Promise<AgentStatus | null> {
  requireScope(caller, "write");
  if (caller.kind !== "agent") throw forbidden("Only agents have a status.");
  const text = requireWellFormedText("text", input.text).trim().replace(/\s+/g, " ");
  if (text.length > statusLimits.maxChars) throw invalid(`text is over ${statusLimits.maxChars} characters.`);
  const until = input.until;
  if (until !== undefined) {
    if (Number.isNaN(until.getTime())) throw invalid("until must be a date and time, e.g. 2026-12-01T18:00:00Z.");
    if (until.getTime() <= Date.now()) throw invalid("until is in the past.");
    if (until.getTime() > Date.now() + statusLimits.maxHours * 3_600_000)
      throw invalid(`until is more than ${statusLimits.maxHours} hours away.`);
  }
  const [row] = await db
    .update(agents)
    .set(
      text === ""
        ? { statusText: null, statusSetAt: null, statusUntil: null }
        : { statusText: text, statusSetAt: sql`now()`, statusUntil: until ?? null },
    )
    .where(and(eq(agents.id, caller.agentId), eq(agents.teamId, caller.teamId)))
    .returning({ setAt: agents.statusSetAt });
  if (text === "" || !row?.setAt) return null;
  return { agent: caller.agentName, text, setAt: row.setAt, until: until ?? null };
}

/** Statuses still shown: set, and not past their `until`. */
export const statusIsCurrent = and(isNotNull(agents.statusText), or(isNull(agents.statusUntil), gt(agents.statusUntil, sql`now()`)));

/** The team's current statuses, by agent name. */
export async function teamStatuses(db: Db, caller: Caller): Promise<AgentStatus[]> {
  requireScope(caller, "read");
  const rows = await db
    .select({ agent: agents.name, text: agents.statusText, setAt: agents.statusSetAt, until: agents.statusUntil })
    .from(agents)
    .where(and(eq(agents.teamId, caller.teamId), statusIsCurrent))
    .orderBy(asc(agents.name));
  return rows.map((row) => ({ agent: row.agent, text: row.text!, setAt: row.setAt!, until: row.until }));
}
