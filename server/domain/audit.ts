import { desc, eq } from "drizzle-orm";
import type { Caller, Visitor } from "./callers.ts";
import type { Db } from "../db/client.ts";
import { auditLog } from "../db/schema/index.ts";

/** Who did it: a caller, the command line, or someone not signed in (a failed sign-in). */
export type AuditActor = Caller | { kind: "cli" } | Visitor;

export type AuditEntry = typeof auditLog.$inferSelect;

export async function recordAudit(
  db: Db,
  teamId: string,
  actor: AuditActor,
  action: string,
  target: string,
  details?: Record<string, unknown>,
): Promise<void> {
  await db.insert(auditLog).values({
    teamId,
    actorKind: actor.kind,
    actorName: actor.kind === "cli" ? "command line" : actor.kind === "visitor" ? actor.address : actor.displayName,
    action,
    target,
    details,
  });
}

export function listAudit(db: Db, teamId: string, limit = 100): Promise<AuditEntry[]> {
  return db.select().from(auditLog).where(eq(auditLog.teamId, teamId)).orderBy(desc(auditLog.createdAt), desc(auditLog.id)).limit(limit);
}
