import { randomUUID } from "node:crypto";
import { eq, getTableColumns, inArray, sql, type Table } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Db } from "../db/client.ts";
import { agentTokens, agents, auditLog, journalEntries, posts, readCursors, teams, users } from "../db/schema/index.ts";
import { conflict, invalid } from "./errors.ts";
import { findTeam } from "./teams.ts";

/**
 * A team's whole history as JSON lines, one row a line, in an order that can be inserted back:
 * so a team can move from the embedded database to Postgres, or be backed up. Tokens and passwords
 * travel as their hashes, so agents and engineers keep working after the move.
 */

const archivedTables = {
  teams,
  users,
  agents,
  agent_tokens: agentTokens,
  posts,
  journal_entries: journalEntries,
  read_cursors: readCursors,
  audit_log: auditLog,
} as const;

type ArchivedTable = keyof typeof archivedTables;
const archiveFormat = "botboard-team-archive/1";

/**
 * Columns the database computes (search vectors) are left out; they are rebuilt on import. So are
 * transaction ids, which mean something only in the database that assigned them: imported posts and
 * read positions take the importing transaction's, which keeps their delivery order by post id.
 */
const localColumns: ReadonlySet<unknown> = new Set([posts.txId, readCursors.lastTxId]);

function storedColumns(table: Table) {
  return Object.fromEntries(Object.entries(getTableColumns(table)).filter(([, column]) => !column.generated && !localColumns.has(column)));
}

export async function exportTeam(db: Db, slugOrId: string): Promise<string[]> {
  const team = await findTeam(db, slugOrId);
  const lines = [JSON.stringify({ format: archiveFormat, team: team.slug, exportedAt: new Date().toISOString() })];
  for (const [name, table] of Object.entries(archivedTables) as [ArchivedTable, PgTable][]) {
    const teamColumn = name === "teams" ? teams.id : (getTableColumns(table) as Record<string, typeof teams.id>).teamId!;
    // Posts point at earlier posts (parent, root), so they go out in id order.
    const rows = await db
      .select(storedColumns(table))
      .from(table)
      .where(eq(teamColumn, team.id))
      .orderBy(name === "posts" || name === "journal_entries" || name === "audit_log" ? sql`id` : sql`1`);
    for (const row of rows) lines.push(JSON.stringify({ table: name, row }));
  }
  return lines;
}

function reviveRow(table: Table, row: Record<string, unknown>): Record<string, unknown> {
  const columns = storedColumns(table);
  const revived: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    const column = columns[key];
    if (!column) throw invalid(`The archive has an unknown column '${key}'.`);
    revived[key] = column.columnType === "PgTimestamp" && typeof value === "string" ? new Date(value) : value;
  }
  return revived;
}

/**
 * Loads an archive into this database in one transaction: all of it or, on any problem, nothing.
 * Ids are kept exactly, so post numbers agents quoted stay valid; a clash with existing rows is refused.
 */
export async function importTeam(db: Db, lines: string[]): Promise<{ team: string; rows: Record<string, number> }> {
  const [header, ...body] = lines.filter((line) => line.trim() !== "");
  let meta: { format?: string; team?: string };
  try {
    meta = JSON.parse(header ?? "{}");
  } catch {
    throw invalid("The archive's first line is not JSON.");
  }
  if (meta.format !== archiveFormat) throw invalid(`Not a Botboard team archive (expected format ${archiveFormat}).`);
  const batches = new Map<ArchivedTable, Record<string, unknown>[]>();
  for (const [index, line] of body.entries()) {
    let entry: { table?: string; row?: Record<string, unknown> };
    try {
      entry = JSON.parse(line);
    } catch {
      throw invalid(`Line ${index + 2} of the archive is not JSON.`);
    }
    if (!entry.table || !(entry.table in archivedTables) || typeof entry.row !== "object" || entry.row === null) {
      throw invalid(`Line ${index + 2} of the archive is not a row of a known table.`);
    }
    const name = entry.table as ArchivedTable;
    const list = batches.get(name) ?? [];
    list.push(reviveRow(archivedTables[name], entry.row));
    batches.set(name, list);
  }
  const teamRows = batches.get("teams") ?? [];
  if (teamRows.length !== 1) throw invalid("The archive must hold exactly one team.");
  return db.transaction(async (tx) => {
    const teamId = teamRows[0]!.id as string;
    const [clash] = await tx
      .select({ id: teams.id })
      .from(teams)
      .where(inArray(teams.id, [teamId]));
    if (clash) throw conflict("This team is already in the database.");
    const counts: Record<string, number> = {};
    for (const name of Object.keys(archivedTables) as ArchivedTable[]) {
      const rows = batches.get(name) ?? [];
      counts[name] = rows.length;
      for (let start = 0; start < rows.length; start += 500) {
        const chunk = rows.slice(start, start + 500);
        await tx
          .insert(archivedTables[name] as PgTable)
          .overridingSystemValue()
          .values(chunk)
          .catch((error: { cause?: { code?: string }; code?: string }) => {
            const code = error.cause?.code ?? error.code;
            if (code === "23505") throw conflict(`Rows of ${name} in the archive already exist here (an id or a name is taken).`);
            throw error;
          });
      }
    }
    // Rows came with their ids; move each identity past them so new rows never collide.
    for (const table of ["posts", "journal_entries", "audit_log"]) {
      await tx.execute(
        sql.raw(`select setval(pg_get_serial_sequence('${table}', 'id'), greatest((select coalesce(max(id), 0) from ${table}), 1))`),
      );
    }
    return { team: String(teamRows[0]!.slug), rows: counts };
  });
}

/**
 * Copies a team's knowledge (agents, posts, journal entries) into a new team in the same database,
 * through an export and an import: ids are renumbered so nothing clashes with the original. Tokens,
 * engineers, read cursors and the audit log stay behind, so the copy starts with no one signed in and
 * every post unread. The benchmark's warm phase starts agents on such a copy of an earlier run's board.
 */
export async function copyTeam(
  db: Db,
  sourceSlugOrId: string,
  target: { name: string; slug: string },
): Promise<{ team: string; rows: Record<string, number> }> {
  const lines = await exportTeam(db, sourceSlugOrId);
  const [offsets] = await db
    .select({
      posts: sql<number>`(select coalesce(max(id), 0) from posts)::bigint`,
      journal: sql<number>`(select coalesce(max(id), 0) from journal_entries)::bigint`,
    })
    .from(sql`(select 1) as one`);
  const postOffset = Number(offsets!.posts);
  const journalOffset = Number(offsets!.journal);
  const newIds = new Map<string, string>();
  const renamed = (id: unknown) => {
    if (typeof id !== "string") return id;
    if (!newIds.has(id)) newIds.set(id, randomUUID());
    return newIds.get(id)!;
  };
  const shift = (id: unknown, offset: number) => (typeof id === "number" ? id + offset : id);
  const copied = [lines[0]!];
  for (const line of lines.slice(1)) {
    const { table, row } = JSON.parse(line) as { table: ArchivedTable; row: Record<string, unknown> };
    let copy: Record<string, unknown> | undefined;
    if (table === "teams")
      copy = { ...row, id: renamed(row.id), name: target.name, slug: target.slug, createdAt: new Date().toISOString() };
    else if (table === "agents") copy = { ...row, id: renamed(row.id), teamId: renamed(row.teamId), lastSeenAt: null };
    else if (table === "posts") {
      copy = {
        ...row,
        id: shift(row.id, postOffset),
        parentId: shift(row.parentId, postOffset),
        rootId: shift(row.rootId, postOffset),
        teamId: renamed(row.teamId),
        agentId: row.agentId === null ? null : renamed(row.agentId),
        userId: null,
        tokenId: null,
        idempotencyKey: null,
      };
    } else if (table === "journal_entries") {
      copy = { ...row, id: shift(row.id, journalOffset), teamId: renamed(row.teamId), agentId: renamed(row.agentId), tokenId: null };
    }
    if (copy) copied.push(JSON.stringify({ table, row: copy }));
  }
  return importTeam(db, copied);
}
