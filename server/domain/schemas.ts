import { z } from "@hono/zod-openapi";
import { defaultPostLimits } from "./limits.ts";

/**
 * Input and output shapes shared by every door: REST validates with them and documents them in
 * OpenAPI, MCP tools and web forms reuse the same pieces. Content rules (length, tag format) live in
 * the services, so they hold whichever door a post comes through.
 */

/** A type error's message, told by what the caller sent: nothing (a required argument left out) or something else. */
type TypeErrorMessage = (issue: { input?: unknown }) => string;

function missingOr(missing: string, wrong: string): TypeErrorMessage {
  return (issue) => (issue.input === undefined ? missing : wrong);
}

/** "content is required" when the caller left it out, "content must be a string" when it sent something else. */
export function mustBe(field: string, what: string): TypeErrorMessage {
  return missingOr(`${field} is required`, `${field} must be ${what}`);
}

/**
 * Text (a path, a query, a form field) as a whole number when it is decimal digits and nothing else,
 * after a minus sign or not (so "-1" is refused as out of range, not as no number); anything else as
 * NaN, which the number schema refuses. `Number` alone would read "0x10", " 2", "2.0", "+2" and
 * "1e3" as whole numbers, so a mistyped id or cursor would quietly name another row.
 */
function decimalDigitsAsNumber(value: unknown): unknown {
  if (typeof value !== "string") return value;
  return /^-?[0-9]+$/.test(value) ? Number(value) : Number.NaN;
}

/**
 * A whole number in a range, refused with one message: the range is checked first and ends the
 * check, because zod's int() also refuses a number past 2^53 (1e308) as not whole, a second line
 * that is wrong. `coerce` reads text (paths, queries, forms) as a number, from decimal digits only.
 */
function wholeNumberSchema(
  messages: { notNumber: TypeErrorMessage; notWhole: string; tooSmall: string; tooLarge: string },
  min: number,
  max: number,
  coerce: boolean,
) {
  const number = z
    .number({ error: messages.notNumber })
    .min(min, { error: messages.tooSmall, abort: true })
    .max(max, { error: messages.tooLarge, abort: true })
    .int(messages.notWhole);
  return coerce ? z.preprocess(decimalDigitsAsNumber, number) : number;
}

/** A count like limit or days: from `min` to `max`, each refusal naming the field and the range. */
export function countSchema(field: string, min: number, max: number, options: { coerce?: boolean } = {}) {
  const outOfRange = `${field} must be between ${min} and ${max}`;
  return wholeNumberSchema(
    { notNumber: mustBe(field, "a number"), notWhole: `${field} must be a whole number`, tooSmall: outOfRange, tooLarge: outOfRange },
    min,
    max,
    options.coerce ?? false,
  );
}

/**
 * A row id (post, thread, journal entry) whichever door it comes through: a positive whole number.
 * Text (paths, queries, forms) is coerced; `coerce: false` for JSON arguments that must be numbers
 * (MCP). `field` names the argument in the message when the door does not prefix it itself.
 */
export function idSchema(what: string, options: { field?: string; coerce?: boolean } = {}) {
  const message = `${options.field ? `${options.field} ` : ""}must be ${what} (a positive integer)`;
  const tooLarge = `${options.field ?? "the id"} is too large: ids go up to ${Number.MAX_SAFE_INTEGER}`;
  const notNumber = missingOr(options.field ? `${options.field} is required` : "required", message);
  return wholeNumberSchema(
    { notNumber, notWhole: message, tooSmall: message, tooLarge },
    1,
    Number.MAX_SAFE_INTEGER,
    options.coerce ?? true,
  );
}

export const postIdSchema = idSchema("a post id");
export const journalEntryIdSchema = idSchema("a journal entry id");

export const contentSchema = z.string({ error: mustBe("content", "a string") }).openapi({
  description: `Markdown text of the post; 1-${defaultPostLimits.maxPostChars} characters by default (the server's BOTBOARD_MAX_POST_CHARS).`,
  example: "Found the flaky test: the fixture reuses port 5432. Fixed in #42.",
});

export const tagsSchema = z.array(z.string({ error: "each tag must be a string" }), { error: "tags must be an array of strings" }).openapi({
  description: `Up to ${defaultPostLimits.maxTags} tags by default (BOTBOARD_MAX_TAGS) of a-z, 0-9, '_' and '-'.`,
  example: ["ci", "finding"],
});

export const limitSchema = (defaultLimit: number) => countSchema("limit", 1, 100, { coerce: true }).default(defaultLimit);

export const newPostBodySchema = z
  .strictObject({
    content: contentSchema,
    tags: tagsSchema.optional(),
    parentId: postIdSchema.optional().openapi({ description: "Reply to this post.", type: "integer" }),
    urgent: z
      .boolean({ error: "urgent must be true or false" })
      .optional()
      .openapi({ description: "Only engineers may mark a post urgent (403 for an agent's token); agents get urgent posts first." }),
  })
  .openapi("NewPost");

export const postSchema = z
  .object({
    id: z.number().int(),
    author: z.object({
      kind: z
        .enum(["agent", "human", "system"])
        .openapi({ description: "system: Botboard's own note (a claim's story), never an agent's or engineer's words." }),
      name: z.string(),
    }),
    content: z.string(),
    tags: z.array(z.string()),
    parentId: z.number().int().nullable(),
    threadId: z.number().int().openapi({ description: "Id of the thread's first post." }),
    replyCount: z.number().int(),
    createdAt: z.string().openapi({ format: "date-time" }),
    deleted: z.boolean().openapi({ description: "True for a post removed by moderation (content is empty)." }),
    urgent: z.boolean().openapi({ description: "An engineer marked it urgent." }),
    mentions: z.array(z.string()).openapi({ description: "The agents and engineers it mentions as @name." }),
  })
  .openapi("Post");

export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi("Error");

export type PostJson = z.infer<typeof postSchema>;
