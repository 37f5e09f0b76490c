import { randomUUID } from "node:crypto";
import { and, eq, getTableColumns, getTableName, isNull, or, sql } from "drizzle-orm";
import type { PgArray, PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Db } from "../db/client.ts";
import { agentTokens, agents, auditLog, claims, journalEntries, posts, readCursors, teams, users } from "../db/schema/index.ts";
import { recordAudit } from "./audit.ts";
import { deriveMissingSearchTerms } from "./search-backfill.ts";
import { allScopes, cli, type Scope } from "./callers.ts";
import { normalizeClaimPaths } from "./claim-paths.ts";
import { dateRange, readDate } from "./dates.ts";
import { maxGivenBack } from "./delivery.ts";
import { claimLimits, defaultPostLimits, type PostLimits } from "./limits.ts";
import { type AppError, conflict, invalid } from "./errors.ts";
import { hasHiddenCharacter, nameKey } from "./names.ts";
import { isCurrentPasswordHash } from "./passwords.ts";
import { systemAuthorName } from "./names.ts";
import { findTeam, normalizeRepositoryUrl, slugPattern } from "./teams.ts";
import { isSecretHash } from "./tokens.ts";
import {
  agentNameProblem,
  futureProblem,
  journalProblem,
  malformedValueProblem,
  postProblem,
  teamNameProblem,
} from "./team-archive-rules.ts";

/**
 * A team's whole history as JSON lines, one row a line, in an order that can be inserted back:
 * so a team can move from the embedded database to Postgres, or be backed up. Tokens and passwords
 * travel as their hashes; an import takes them only when asked to (`withSecrets`).
 *
 * An archive is an untrusted file (docs/decisions/019-untrusted-imports.md): every row must belong
 * to the archive's one team, every reference must point inside the archive, ids stay within
 * maxImportedId, every row passes the rules the API holds a new one to (team-archive-rules.ts), and
 * an error names the line and field, never a value.
 *
 * Claims travel with the tokens that made them: an import without secrets leaves both out (a claim
 * whose token is gone has ended anyway). An agent's status is part of its row.
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
  claims,
} as const;

type ArchivedTable = keyof typeof archivedTables;
type Row = Record<string, unknown>;
/** A row of the archive, with the line it came from so that every error can name it. */
type Line = { line: number; row: Row };

const archiveFormat = "botboard-team-archive/1";

/**
 * The largest post, journal or audit id an import accepts. Ids are kept (agents quote post numbers),
 * and the shared id sequences move past the largest imported one: capped here, they stay 2^53 - 2^48
 * (about 8.7e15) ids short of what a JavaScript number holds exactly.
 */
export const maxImportedId = 2 ** 48;

/**
 * Columns the database computes (search vectors) are left out; they are rebuilt on import, and so
 * are the search terms the application derives (search-backfill.ts). So are
 * transaction ids, which mean something only in the database that assigned them: imported posts and
 * read positions take the importing transaction's, which keeps their delivery order by post id, and
 * a post's last change (changed_tx_id) is one no live page of the importing database missed.
 */
const localColumns: ReadonlySet<unknown> = new Set([
  posts.txId,
  posts.changedTxId,
  readCursors.lastTxId,
  posts.searchTerms,
  journalEntries.searchTerms,
]);

/**
 * Columns that archives written before they were left out carry: read and dropped, so those
 * archives still import (every post row of them has `changedTxId`, null but for removed posts).
 */
const formerlyArchivedColumns: Partial<Record<ArchivedTable, ReadonlySet<string>>> = { posts: new Set(["changedTxId"]) };

function storedColumns(table: PgTable): Record<string, PgColumn> {
  return Object.fromEntries(Object.entries(getTableColumns(table)).filter(([, column]) => !column.generated && !localColumns.has(column)));
}

export async function exportTeam(db: Db, slugOrId: string): Promise<string[]> {
  const team = await findTeam(db, slugOrId);
  const lines: string[] = [];
  // The first line counts each table's rows, so an archive cut short at a line break is known as such.
  const rowCounts: Partial<Record<ArchivedTable, number>> = {};
  for (const [name, table] of Object.entries(archivedTables) as [ArchivedTable, PgTable][]) {
    const teamColumn = name === "teams" ? teams.id : (getTableColumns(table) as Record<string, typeof teams.id>).teamId!;
    // An OAuth client's tokens belong to its approval, which is not archived: the client connects again.
    const ofTeam = name === "agent_tokens" ? and(eq(teamColumn, team.id), isNull(agentTokens.oauthGrantId)) : eq(teamColumn, team.id);
    // Posts point at earlier posts (parent, root), so they go out in id order.
    const rows = await db
      .select(storedColumns(table))
      .from(table)
      .where(ofTeam)
      .orderBy(name === "posts" || name === "journal_entries" || name === "audit_log" || name === "claims" ? sql`id` : sql`1`);
    for (const row of rows) lines.push(JSON.stringify({ table: name, row }));
    rowCounts[name] = rows.length;
  }
  return [JSON.stringify({ format: archiveFormat, team: team.slug, exportedAt: new Date().toISOString(), rows: rowCounts }), ...lines];
}

function isSavedRepositoryUrl(value: unknown): boolean {
  try {
    return typeof value === "string" && normalizeRepositoryUrl(value) === value;
  } catch {
    return false;
  }
}

function problemAt(line: number, field: string, problem: string): AppError {
  return invalid(`Line ${line} of the archive, ${field}: ${problem}. Nothing was imported.`);
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const timestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const noText = (value: unknown) => typeof value !== "string" || value.includes("\0");

/** What is wrong with a value for a column, in words that never repeat the value; undefined when nothing is. */
function problemWith(column: PgColumn, value: unknown): string | undefined {
  if (value === null) return column.notNull ? "may not be null" : undefined;
  switch (column.columnType) {
    case "PgUUID":
      return typeof value === "string" && uuidPattern.test(value) ? undefined : "expected a lower-case UUID";
    case "PgText":
      if (noText(value)) return "expected text without NUL characters";
      return column.enumValues && !column.enumValues.includes(value as string)
        ? `expected one of ${column.enumValues.join(", ")}`
        : malformedValueProblem(value);
    case "PgTimestamp":
      return typeof value === "string" && timestampPattern.test(value) && readDate(value)
        ? undefined
        : `expected an ISO 8601 timestamp from ${dateRange.earliest} to ${dateRange.latest}`;
    case "PgBigInt53": {
      const least = column.primary ? 1 : 0;
      return Number.isSafeInteger(value) && (value as number) >= least && (value as number) <= maxImportedId
        ? undefined
        : `expected a whole number from ${least} to 2^48`;
    }
    case "PgBoolean":
      return typeof value === "boolean" ? undefined : "expected true or false";
    case "PgJsonb":
      // Postgres's jsonb cannot hold \u0000 either.
      return typeof value === "object" && !Array.isArray(value) && !JSON.stringify(value).includes("\\u0000")
        ? malformedValueProblem(value)
        : "expected a JSON object without NUL characters";
    case "PgArray": {
      const item = (column as PgArray<never, never>).baseColumn;
      if (item.columnType === "PgBigInt53")
        return Array.isArray(value) && value.length <= maxGivenBack && value.every((id) => id !== null && !problemWith(item, id))
          ? undefined
          : `expected a list of at most ${maxGivenBack} whole numbers from 0 to 2^48`;
      return Array.isArray(value) && !value.some(noText) ? malformedValueProblem(value) : "expected a list of texts without NUL characters";
    }
    default:
      return "cannot be imported";
  }
}

/** Checks a row against its table's columns and turns timestamps into dates; throws at the first problem. */
function reviveRow(name: ArchivedTable, line: number, row: Row): Row {
  const columns = storedColumns(archivedTables[name]);
  for (const key of Object.keys(row)) {
    if (formerlyArchivedColumns[name]?.has(key)) continue;
    // A key is the file's text too: named only when it looks like a column, never echoed as it is.
    if (!Object.hasOwn(columns, key)) throw problemAt(line, name, /^\w{1,64}$/.test(key) ? `unknown column '${key}'` : "an unknown column");
  }
  const revived: Row = {};
  for (const [key, column] of Object.entries(columns)) {
    if (!Object.hasOwn(row, key)) {
      // Ids are always given: rows point at each other by them.
      if (column.notNull && (!column.hasDefault || column.primary)) throw problemAt(line, `${name}.${key}`, "missing");
      continue;
    }
    const problem = problemWith(column, row[key]);
    if (problem) throw problemAt(line, `${name}.${key}`, problem);
    revived[key] = column.columnType === "PgTimestamp" && row[key] !== null ? new Date(row[key] as string) : row[key];
    const future = key === "createdAt" ? futureProblem(revived[key] as Date) : undefined;
    if (future) throw problemAt(line, `${name}.${key}`, future);
  }
  return revived;
}

// The byte-order mark is kept for parseArchive, which takes one at the start and no more.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * An archive's bytes as its text, refused unless they are UTF-8 as `botboard export` writes them:
 * read leniently, a file saved in another encoding would import with U+FFFD in place of its letters.
 */
export function archiveText(bytes: Uint8Array): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw invalid("The archive is UTF-16 text (as PowerShell's > writes it); save it as UTF-8. Nothing was imported.");
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
      if (!isUtf8(bytes.subarray(start, end))) break;
      line += 1;
      start = end + 1;
    }
    throw invalid(`Line ${line} of the archive is not UTF-8 text (saved in another encoding?). Nothing was imported.`);
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Windows editors and tools may save a hand-edited archive with a UTF-8 byte-order mark: it marks the file, it is not JSON. */
function withoutByteOrderMark(firstLine: string): string {
  return firstLine.startsWith("\uFEFF") ? firstLine.slice(1) : firstLine;
}

/** Reads the archive's lines into rows per table; only the format of each line and value is checked here. */
function parseArchive(lines: string[]): { header: { format?: unknown; team?: unknown }; batches: Map<ArchivedTable, Line[]> } {
  const numbered = lines
    .map((text, index) => ({ text: index === 0 ? withoutByteOrderMark(text) : text, line: index + 1 }))
    .filter(({ text }) => text.trim() !== "");
  const [first, ...body] = numbered;
  const read = ({ text, line }: { text: string; line: number }) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw invalid(`Line ${line} of the archive is not JSON. Nothing was imported.`);
    }
  };
  const header = first ? read(first) : {};
  if (typeof header !== "object" || header === null || (header as { format?: unknown }).format !== archiveFormat) {
    throw invalid(`Not a Botboard team archive (expected format ${archiveFormat} on its first line).`);
  }
  const entries = body.map((numberedLine) => ({
    line: numberedLine.line,
    entry: read(numberedLine) as { table?: unknown; row?: unknown },
  }));
  const batches = new Map<ArchivedTable, Line[]>();
  for (const { line, entry } of entries) {
    const { table, row } = entry ?? {};
    if (
      typeof table !== "string" ||
      !Object.hasOwn(archivedTables, table) ||
      typeof row !== "object" ||
      row === null ||
      Array.isArray(row)
    ) {
      throw invalid(`Line ${line} of the archive is not a row of a known table. Nothing was imported.`);
    }
    const name = table as ArchivedTable;
    const list = batches.get(name) ?? [];
    list.push({ line, row: reviveRow(name, line, row as Row) });
    batches.set(name, list);
  }
  checkRowCounts((header as { rows?: unknown }).rows, batches);
  return { header: header as { team?: unknown }, batches };
}

/**
 * An archive's first line counts the rows of each table (archives exported before it did carry no
 * counts and are taken as they are). Fewer rows than counted is an archive cut short: an export that
 * did not finish, a copy that ran out of room.
 */
function checkRowCounts(counted: unknown, batches: Map<ArchivedTable, Line[]>): void {
  if (counted === undefined) return;
  if (typeof counted !== "object" || counted === null || Array.isArray(counted)) {
    throw invalid("Line 1 of the archive, rows: expected the number of rows of each table. Nothing was imported.");
  }
  const rowsOf = counted as Record<string, unknown>;
  for (const name of Object.keys(rowsOf)) {
    if (!Object.hasOwn(archivedTables, name) || !Number.isSafeInteger(rowsOf[name]) || (rowsOf[name] as number) < 0) {
      throw invalid(
        `Line 1 of the archive, rows.${name.slice(0, 40)}: expected a count of rows of an archived table. Nothing was imported.`,
      );
    }
  }
  for (const name of Object.keys(archivedTables) as ArchivedTable[]) {
    const told = (rowsOf[name] as number | undefined) ?? 0;
    const held = batches.get(name)?.length ?? 0;
    if (held !== told) {
      throw invalid(
        `The archive's first line counts ${told} rows of ${name} and it holds ${held}: it is not whole (cut short?). Nothing was imported.`,
      );
    }
  }
}

/**
 * Checks that the archive is one team, whole: every row carries the team's id, every id and name is
 * given once, every reference (agent, engineer, token, parent and thread, mention, read position)
 * names a row of this archive, never one already in the database, and every name and text passes
 * the API's rules under this server's limits. Returns the team row.
 */
function checkArchive(header: { team?: unknown }, batches: Map<ArchivedTable, Line[]>, limits: PostLimits): Row {
  const rows = (name: ArchivedTable) => batches.get(name) ?? [];
  const [teamLine, extraTeam] = rows("teams");
  if (!teamLine || extraTeam) throw invalid("The archive must hold exactly one team. Nothing was imported.");
  const team = teamLine.row;
  if (!slugPattern.test(team.slug as string)) throw problemAt(teamLine.line, "teams.slug", "expected 1-40 characters of a-z, 0-9 and '-'");
  if (header.team !== team.slug) throw problemAt(teamLine.line, "teams.slug", "not the team the archive's first line names");
  const teamNameRefusal = teamNameProblem(team.name as string);
  if (teamNameRefusal) throw problemAt(teamLine.line, "teams.name", teamNameRefusal);
  // Links on every page are built from it: only an address this server would have saved itself.
  if (team.repositoryUrl != null && !isSavedRepositoryUrl(team.repositoryUrl))
    throw problemAt(teamLine.line, "teams.repositoryUrl", "expected an http(s) repository address, such as https://github.com/org/repo");

  const idsOf = (name: ArchivedTable, key = (row: Row) => String(row.id)) => {
    const lineOf = new Map<string, number>();
    for (const { line, row } of rows(name)) {
      if (name !== "teams" && row.teamId !== team.id)
        throw problemAt(line, `${name}.teamId`, `not the archive's team (line ${teamLine.line})`);
      const id = key(row);
      const earlier = lineOf.get(id);
      if (earlier !== undefined) throw problemAt(line, name, `the same row as line ${earlier}`);
      lineOf.set(id, line);
    }
    return lineOf;
  };
  const userIds = idsOf("users");
  const agentIds = idsOf("agents");
  const tokenIds = idsOf("agent_tokens");
  idsOf("journal_entries");
  idsOf("audit_log");
  idsOf("read_cursors", (row) => JSON.stringify([row.agentId, row.readerName ?? ""]));
  idsOf("posts");
  idsOf("claims");

  const inArchive = (ids: Map<string, number>, value: unknown) => value === null || value === undefined || ids.has(String(value));
  const tokenAgents = new Map(rows("agent_tokens").map(({ row }) => [row.id, row.agentId]));
  const refer = (line: number, field: string, ids: Map<string, number>, value: unknown, what: string) => {
    if (!inArchive(ids, value)) throw problemAt(line, field, `does not name ${what} of this archive`);
  };
  for (const { line, row } of rows("agent_tokens")) refer(line, "agent_tokens.agentId", agentIds, row.agentId, "an agent");
  for (const { line, row } of rows("agent_tokens"))
    if (!isSecretHash(row.hash as string)) throw problemAt(line, "agent_tokens.hash", "expected a SHA-256 in hex");
  for (const { line, row } of rows("agent_tokens")) {
    if (!(row.scopes as string[]).every((scope) => allScopes.includes(scope as Scope)))
      throw problemAt(line, "agent_tokens.scopes", `expected scopes among ${allScopes.join(", ")}`);
  }
  // Names are shown on pages and printed by the command line: none may hide characters or carry a terminal escape.
  const names: [ArchivedTable, string][] = [
    ["teams", "name"],
    ["users", "username"],
    ["users", "displayName"],
    ["agents", "name"],
    ["posts", "authorName"],
    ["journal_entries", "authorName"],
    ["read_cursors", "readerName"],
    ["claims", "holderName"],
    ["claims", "releasedBy"],
  ];
  for (const [name, field] of names) {
    for (const { line, row } of rows(name)) {
      if (typeof row[field] === "string" && hasHiddenCharacter(row[field]))
        throw problemAt(line, `${name}.${field}`, "contains a control, invisible or direction character");
    }
  }
  // Names the API would refuse, or give twice (bob and BOB are one agent), would clash or mislead.
  const namedOnce = (name: ArchivedTable, field: string, key: (value: string) => string, why: string) => {
    const lineOf = new Map<string, number>();
    for (const { line, row } of rows(name)) {
      const earlier = lineOf.get(key(row[field] as string));
      if (earlier !== undefined) throw problemAt(line, `${name}.${field}`, `the same name as line ${earlier} (${why})`);
      lineOf.set(key(row[field] as string), line);
    }
  };
  for (const { line, row } of rows("agents")) {
    const problem = agentNameProblem(row.name as string);
    if (problem) throw problemAt(line, "agents.name", problem);
  }
  namedOnce("agents", "name", nameKey, "agents' names are compared ignoring case and width");
  namedOnce("users", "username", (username) => username.toLowerCase(), "usernames are compared ignoring case");
  for (const { line, row } of rows("users")) {
    if (!isCurrentPasswordHash(row.passwordHash as string))
      throw problemAt(line, "users.passwordHash", "not a password hash this server makes");
  }
  /** A post or journal entry names the token that wrote it, which must be its own agent's. */
  const referAuthor = (line: number, name: ArchivedTable, row: Row) => {
    refer(line, `${name}.agentId`, agentIds, row.agentId, "an agent");
    refer(line, `${name}.tokenId`, tokenIds, row.tokenId, "a token");
    if (row.tokenId != null && tokenAgents.get(row.tokenId) !== row.agentId)
      throw problemAt(line, `${name}.tokenId`, "a token of another agent");
  };
  // Posts come in id order, so a reply's parent and thread are on earlier lines.
  const listed = (ids: unknown) => (ids as string[] | undefined) ?? [];
  const threadOf = new Map<string, number>();
  for (const { line, row } of rows("posts")) {
    referAuthor(line, "posts", row);
    refer(line, "posts.userId", userIds, row.userId, "an engineer");
    if (row.parentId == null) {
      if (row.rootId != null) throw problemAt(line, "posts.rootId", "given for a post that starts a thread");
    } else {
      const thread = threadOf.get(String(row.parentId));
      if (thread === undefined) throw problemAt(line, "posts.parentId", "does not name an earlier post of this archive");
      if (row.rootId !== thread) throw problemAt(line, "posts.rootId", "not the thread of the post's parent");
    }
    threadOf.set(String(row.id), (row.rootId as number | null) ?? (row.id as number));
    if (!listed(row.mentionedAgentIds).every((id) => agentIds.has(id)))
      throw problemAt(line, "posts.mentionedAgentIds", "names an agent that is not one of this archive");
    if (!listed(row.mentionedUserIds).every((id) => userIds.has(id)))
      throw problemAt(line, "posts.mentionedUserIds", "names an engineer who is not one of this archive");
    const problem = postProblem(row, limits);
    if (problem) throw problemAt(line, problem.field, problem.problem);
  }
  for (const { line, row } of rows("posts")) {
    // Botboard's own notes have no author behind them; a post that claims to be one and names one is forged.
    if (row.authorKind !== "system") continue;
    if (row.agentId != null || row.userId != null || row.tokenId != null || row.authorName !== systemAuthorName)
      throw problemAt(line, "posts.authorKind", `a system post has no agent, engineer or token and is signed ${systemAuthorName}`);
  }
  const signedAs = authorNamesOf(rows("agents"), rows("users"));
  for (const { line, row } of rows("posts")) {
    const problem = row.authorKind === "system" ? undefined : signedAs(row);
    if (problem) throw problemAt(line, "posts.authorName", problem);
  }
  for (const { line, row } of rows("journal_entries")) {
    const problem = signedAs({ ...row, authorKind: "agent" });
    if (problem) throw problemAt(line, "journal_entries.authorName", problem);
  }
  for (const { line, row } of rows("journal_entries")) {
    referAuthor(line, "journal_entries", row);
    const problem = journalProblem(row, limits);
    if (problem) throw problemAt(line, problem.field, problem.problem);
  }
  checkClaims(rows("claims"), { agentIds, tokenIds, tokenAgents, postIds: threadOf });
  for (const { line, row } of rows("read_cursors")) {
    refer(line, "read_cursors.agentId", agentIds, row.agentId, "an agent");
    if (row.lastPostId !== 0 && !threadOf.has(String(row.lastPostId)))
      throw problemAt(line, "read_cursors.lastPostId", "does not name a post of this archive");
    if (row.addressedBeforePostId != null && !threadOf.has(String(row.addressedBeforePostId)))
      throw problemAt(line, "read_cursors.addressedBeforePostId", "does not name a post of this archive");
    if (!listed(row.givenBackPostIds).every((id) => threadOf.has(String(id))))
      throw problemAt(line, "read_cursors.givenBackPostIds", "names a post that is not one of this archive");
  }
  return team;
}

/**
 * Whether a post or journal entry is signed as its author signs, or what is wrong: an agent by its
 * name, or `<agent>/<name>` for a session of one of its pick-name or session tokens; an engineer by
 * their display name. One whose author is gone (a deleted engineer's, signed "<name> (deleted
 * engineer)" since that rule came) may not carry a name an agent or engineer of the archive holds,
 * nor Botboard's: an archive is no way to borrow a name.
 */
function authorNamesOf(agentRows: { row: Row }[], userRows: { row: Row }[]) {
  const agentNames = new Map(agentRows.map(({ row }) => [row.id, row.name as string]));
  const userNames = new Map(userRows.map(({ row }) => [row.id, row.displayName as string]));
  const heldKeys = new Set([
    nameKey(systemAuthorName),
    ...agentRows.map(({ row }) => nameKey(row.name as string)),
    ...userRows.flatMap(({ row }) => [nameKey(row.username as string), nameKey(row.displayName as string)]),
  ]);
  return (row: Row): string | undefined => {
    const name = row.authorName as string;
    const byHuman = row.authorKind === "human";
    const author = byHuman ? row.userId : row.agentId;
    const own = author == null ? undefined : (byHuman ? userNames : agentNames).get(author);
    if (own === undefined) return heldKeys.has(nameKey(name)) ? "the name of another author of this archive, or Botboard's" : undefined;
    if (name === own) return undefined;
    if (byHuman) return `not the name of the engineer who wrote it (${own})`;
    const session = name.startsWith(`${own}/`) ? name.slice(own.length + 1) : undefined;
    return session !== undefined && !agentNameProblem(session)
      ? undefined
      : `not the name of the agent that wrote it (${own}, or ${own}/<name>)`;
  };
}

/**
 * A claim refuses others' claims and commits, so a crafted one could block a team: its paths must be
 * what the server itself would store (nothing absolute, no '..', no match-everything glob, at most
 * 50), and it may last no longer from now than the longest claim any server allows.
 */
function checkClaims(
  lines: Line[],
  archive: {
    agentIds: Map<string, number>;
    tokenIds: Map<string, number>;
    tokenAgents: Map<unknown, unknown>;
    postIds: Map<string, number>;
  },
): void {
  const latestEnd = Date.now() + claimLimits.highestMaxMinutes * 60_000;
  for (const { line, row } of lines) {
    if (!archive.agentIds.has(String(row.agentId))) throw problemAt(line, "claims.agentId", "does not name an agent of this archive");
    if (!archive.tokenIds.has(String(row.tokenId))) throw problemAt(line, "claims.tokenId", "does not name a token of this archive");
    if (archive.tokenAgents.get(row.tokenId) !== row.agentId) throw problemAt(line, "claims.tokenId", "a token of another agent");
    if (row.threadPostId != null && !archive.postIds.has(String(row.threadPostId)))
      throw problemAt(line, "claims.threadPostId", "does not name a post of this archive");
    const paths = row.paths as string[];
    let normalized: string[] | undefined;
    try {
      normalized = normalizeClaimPaths(paths, "paths", "stored");
    } catch {
      normalized = undefined;
    }
    if (!normalized || normalized.length !== paths.length || normalized.some((path, index) => path !== paths[index]))
      throw problemAt(
        line,
        "claims.paths",
        `expected 1-50 repository-relative paths as the server stores them (none absolute, with '..', a backslash or '!', or matching every file)`,
      );
    const reason = String(row.reason).trim();
    if (reason === "" || reason.length > claimLimits.maxReasonChars)
      throw problemAt(line, "claims.reason", `expected 1-${claimLimits.maxReasonChars} characters`);
    if ((row.expiresAt as Date).getTime() > latestEnd)
      throw problemAt(line, "claims.expiresAt", `more than ${claimLimits.highestMaxMinutes} minutes from now`);
    if ((row.expiresAt as Date).getTime() < ((row.createdAt as Date | undefined) ?? new Date(0)).getTime())
      throw problemAt(line, "claims.expiresAt", "before the claim was made");
  }
}

export type ImportedTeam = {
  team: string;
  withSecrets: boolean;
  /** Rows written, per table. */
  rows: Record<ArchivedTable, number>;
  /** Without secrets: the engineers to invite again, and the tokens left out with the agents that held them. */
  leftOut: { engineers: { username: string; role: string }[]; agentTokens: number; agents: string[] };
};

/**
 * Without its secrets a team arrives without engineers' accounts (their password hashes) and agent
 * tokens: the rows that pointed at them keep everything but that pointer.
 */
function withoutSecrets(batches: Map<ArchivedTable, Line[]>): ImportedTeam["leftOut"] {
  const agentNames = new Map((batches.get("agents") ?? []).map(({ row }) => [row.id, String(row.name)]));
  const tokens = batches.get("agent_tokens") ?? [];
  const leftOut = {
    engineers: (batches.get("users") ?? []).map(({ row }) => ({ username: String(row.username), role: String(row.role) })),
    agentTokens: tokens.length,
    agents: [...new Set(tokens.map(({ row }) => agentNames.get(row.agentId)!))],
  };
  batches.delete("users");
  batches.delete("agent_tokens");
  batches.delete("claims");
  for (const { row } of batches.get("posts") ?? [])
    Object.assign(row, { userId: null, tokenId: null, idempotencyKey: null, mentionedUserIds: [] });
  for (const { row } of batches.get("journal_entries") ?? []) Object.assign(row, { tokenId: null, idempotencyKey: null });
  return leftOut;
}

/** A database error while storing rows, said without the rows (the driver's message lists every value). */
function storageError(name: ArchivedTable, error: unknown): unknown {
  const cause = (error as { cause?: { code?: unknown } }).cause ?? error;
  const code = String((cause as { code?: unknown }).code ?? "");
  if (code === "23505")
    return conflict(`Rows of ${name} in the archive clash with rows already here (an id or a name is taken). Nothing was imported.`);
  // Data and integrity errors are the archive's; anything else (a lost connection) is not, and is passed on without the query.
  if (code.startsWith("22") || code.startsWith("23"))
    return invalid(`The archive's ${name} rows could not be stored (database error ${code}). Nothing was imported.`);
  return cause;
}

/**
 * Loads an archive into this database in one transaction: all of it or, on any problem, nothing.
 * Ids are kept exactly, so post numbers agents quoted stay valid; a clash with existing rows is
 * refused. Password hashes and token hashes are taken only `withSecrets`. Posts and journal entries
 * are held to this server's limits (`limits`, from BOTBOARD_MAX_POST_CHARS and BOTBOARD_MAX_TAGS).
 * The import is audited in the new team's log, and the tables' statistics are refreshed so plans do
 * not wait for autovacuum.
 */
export async function importTeam(db: Db, lines: string[], options: { withSecrets: boolean; limits?: PostLimits }): Promise<ImportedTeam> {
  const { header, batches } = parseArchive(lines);
  const team = checkArchive(header, batches, options.limits ?? defaultPostLimits);
  const leftOut = options.withSecrets ? { engineers: [], agentTokens: 0, agents: [] } : withoutSecrets(batches);
  const teamId = team.id as string;
  const counts = Object.fromEntries(
    Object.keys(archivedTables).map((name) => [name, batches.get(name as ArchivedTable)?.length ?? 0]),
  ) as Record<ArchivedTable, number>;
  await db.transaction(async (tx) => {
    const [clash] = await tx
      .select({ id: teams.id, slug: teams.slug })
      .from(teams)
      .where(or(eq(teams.id, teamId), eq(teams.slug, team.slug as string)));
    if (clash?.id === teamId) throw conflict("This team is already in the database.");
    if (clash) throw conflict(`A team with the slug '${clash.slug}' already exists here. Nothing was imported.`);
    for (const [name, table] of Object.entries(archivedTables) as [ArchivedTable, PgTable][]) {
      const rows = (batches.get(name) ?? []).map(({ row }) => row);
      for (let start = 0; start < rows.length; start += 500) {
        await tx
          .insert(table)
          .overridingSystemValue()
          .values(rows.slice(start, start + 500))
          .catch((error: unknown) => {
            throw storageError(name, error);
          });
      }
    }
    // Rows came with their ids; move each identity past them so new rows never collide.
    for (const table of ["posts", "journal_entries", "audit_log", "claims"]) {
      await tx.execute(
        sql.raw(`select setval(pg_get_serial_sequence('${table}', 'id'), greatest((select coalesce(max(id), 0) from ${table}), 1))`),
      );
    }
    await recordAudit(tx, teamId, cli, "team.imported", String(team.slug), {
      withSecrets: options.withSecrets,
      rows: counts,
      leftOut: { users: leftOut.engineers.length, agent_tokens: leftOut.agentTokens },
    });
  });
  await deriveMissingSearchTerms(db);
  await db.execute(
    sql.raw(
      `analyze ${Object.values(archivedTables)
        .map((table) => getTableName(table))
        .join(", ")}`,
    ),
  );
  return { team: String(team.slug), withSecrets: options.withSecrets, rows: counts, leftOut };
}

/**
 * Copies a team's knowledge (agents, posts, journal entries) into a new team in the same database,
 * through an export and an import: ids are renumbered so nothing clashes with the original. Tokens,
 * engineers, read cursors and the audit log stay behind, so the copy starts with no one signed in and
 * every post unread. The benchmark's warm phase starts agents on such a copy of an earlier run's board.
 * The copy is held to this server's `limits`, as an import is: under the defaults, a board written
 * where BOTBOARD_MAX_POST_CHARS is higher could not be copied.
 */
export async function copyTeam(
  db: Db,
  sourceSlugOrId: string,
  target: { name: string; slug: string },
  limits: PostLimits,
): Promise<ImportedTeam> {
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
  const copied = [JSON.stringify({ format: archiveFormat, team: target.slug, exportedAt: new Date().toISOString() })];
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
      copy = {
        ...row,
        id: shift(row.id, journalOffset),
        teamId: renamed(row.teamId),
        agentId: renamed(row.agentId),
        tokenId: null,
        idempotencyKey: null,
      };
    }
    if (copy) copied.push(JSON.stringify({ table, row: copy }));
  }
  return importTeam(db, copied, { withSecrets: false, limits });
}
