import type { JournalSections } from "../db/schema/index.ts";
import { AppError } from "./errors.ts";
import { validateJournalText } from "./journal.ts";
import { journalSectionNames } from "./journal-sections.ts";
import type { PostLimits } from "./limits.ts";
import { validateAgentName } from "./names.ts";
import { validateTeamName } from "./teams.ts";
import { tagRule, validatePostContent, validatePostTags } from "./post-content.ts";
import { malformedTextProblem } from "./untrusted-text.ts";

/**
 * An archived row is held to the rules the API holds a new row to, by calling the API's own
 * validators: what they refuse, an import refuses. Each check returns the problem in words that never
 * repeat the row's values (team-archive.ts adds the line and field), or undefined.
 */

type Row = Record<string, unknown>;
export type RowProblem = { field: string; problem: string };

/** How far ahead of this server's clock a created time may be: clocks of two servers differ a little. */
export const createdAtSkewMs = 24 * 60 * 60_000;

export function futureProblem(createdAt: Date, now = Date.now()): string | undefined {
  return createdAt.getTime() > now + createdAtSkewMs
    ? "more than a day ahead of this server's clock (a row from the future would stay first in every list; a day is allowed for clocks that differ)"
    : undefined;
}

/** A text of a text column, list or JSON value that is not valid Unicode (a lone surrogate), said without the text. */
export function malformedValueProblem(value: unknown): string | undefined {
  if (typeof value === "string") return malformedTextProblem(value);
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const problem = malformedTextProblem(key) ?? malformedValueProblem(item);
    if (problem) return problem;
  }
  return undefined;
}

const unlimited: PostLimits = { maxPostChars: Number.POSITIVE_INFINITY, maxTags: Number.POSITIVE_INFINITY };

/**
 * The API's refusal of a value, or undefined. When only this server's configured limit refuses it, the
 * message names the setting: the archive may come from a server where the limit is higher.
 * `ruleProblem` replaces the API's message where that repeats the value.
 */
function refusal(check: (limits: PostLimits) => unknown, limits: PostLimits, setting: string, ruleProblem?: string): string | undefined {
  const refused = (under: PostLimits) => {
    try {
      check(under);
      return undefined;
    } catch (error) {
      if (error instanceof AppError) return error.message.replace(/\.$/, "");
      throw error;
    }
  };
  const message = refused(limits);
  if (message === undefined) return undefined;
  if (refused(unlimited) !== undefined) return ruleProblem ?? message;
  return `${message} (${setting} on this server; import the archive where it is at least as high as where it was made)`;
}

/** A post's content and tags, as createPost holds them; a moderated post keeps no content. */
export function postProblem(row: Row, limits: PostLimits): RowProblem | undefined {
  const content = row.content as string;
  if (row.deletedAt == null || content !== "") {
    const problem = refusal((under) => validatePostContent(content, under), limits, "BOTBOARD_MAX_POST_CHARS");
    if (problem) return { field: "posts.content", problem };
  }
  // Columns with a default may be left out of a row.
  const tags = (row.tags as string[] | undefined) ?? [];
  const tagProblem = refusal(
    (under) => validatePostTags(tags, under),
    limits,
    "BOTBOARD_MAX_TAGS",
    `expected tags the API accepts: ${tagRule}`,
  );
  if (tagProblem) return { field: "posts.tags", problem: tagProblem };
  if (validatePostTags(tags, limits).join("\n") !== tags.join("\n"))
    return { field: "posts.tags", problem: "not as the API stores tags (lower-case, without '#', each once)" };
  return undefined;
}

/** A journal entry's sections and content, as createJournalEntry holds them. */
export function journalProblem(row: Row, limits: PostLimits): RowProblem | undefined {
  const sections = (row.sections as Record<string, unknown> | null | undefined) ?? null;
  if (
    sections !== null &&
    Object.entries(sections).some(([key, text]) => !journalSectionNames.includes(key as never) || typeof text !== "string")
  )
    return { field: "journal_entries.sections", problem: `expected texts named ${journalSectionNames.join(", ")}` };
  const content = (row.content as string | null | undefined) ?? null;
  // Content alone first, so its refusal names its own field; blank content beside sections is fine.
  const contentProblem = content?.trim()
    ? refusal((under) => validateJournalText({ content }, under), limits, "BOTBOARD_MAX_POST_CHARS")
    : undefined;
  if (contentProblem) return { field: "journal_entries.content", problem: contentProblem };
  const problem = refusal(
    (under) => validateJournalText({ sections: sections as JournalSections | null, content }, under),
    limits,
    "BOTBOARD_MAX_POST_CHARS",
  );
  return problem ? { field: "journal_entries.sections", problem } : undefined;
}

/** What a validator refuses in a stored value, or that it would store it otherwise (`differs`); undefined when as stored. */
function storedValueProblem(validate: (value: string) => string, value: string, differs: string): string | undefined {
  try {
    return validate(value) === value ? undefined : differs;
  } catch (error) {
    if (error instanceof AppError) return error.message.replace(/\.$/, "");
    throw error;
  }
}

/** An agent's name as addAgentToken stores it (names.ts). */
export const agentNameProblem = (name: string) =>
  storedValueProblem(validateAgentName, name, "not as the API stores a name (NFKC, trimmed, single spaces)");

/** A team's name as createTeam stores it (teams.ts). */
export const teamNameProblem = (name: string) => storedValueProblem(validateTeamName, name, "not as the API stores a team name (trimmed)");
