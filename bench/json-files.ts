import { readFileSync } from "node:fs";
import type { z } from "zod";
import { invalid } from "../server/domain/errors.ts";

/**
 * The benchmark's JSON files read back (a run dir, a price table, a suite's task files): each is
 * checked against the schema of what was written, and a bad one is refused in one line that names
 * the file, the line and the field, so a report never reads a file as something it is not.
 *
 * @example
 * readJsonFile("prices.json", priceTableSchema);
 * // AppError: prices.json: gpt-5.inputPerMTok: Invalid input: expected number, received string
 */

/** A file's text, or an error that says why it cannot be read. */
export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw invalid(`Cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}).`);
  }
}

/** JSON text as a value, or the parser's reason on one line. */
export function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: (error as SyntaxError).message.replace(/\s+/g, " ") };
  }
}

/** A field's path as written in the file: `settings.prices.gpt-5.inputPerMTok`, `variants[2]`. */
function fieldName(path: readonly PropertyKey[]): string {
  return path.map((key, index) => (typeof key === "number" ? `[${key}]` : `${index > 0 ? "." : ""}${String(key)}`)).join("");
}

/** A schema's problem as `field: message`; an unknown key is named itself, as a misspelt field. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]!] : issue.path;
  return `${fieldName(path) || "the value"}: ${issue.message.replace(/\s+/g, " ")}`;
}

/** A schema's problems on one line: the first three as `field: message`, and how many more. */
export function describeProblems({ issues }: z.ZodError): string {
  const rest = issues.length > 3 ? `; and ${issues.length - 3} more` : "";
  return `${issues.slice(0, 3).map(describeIssue).join("; ")}${rest}`;
}

/** A value checked against a schema; `where` names the file (and line) in the one-line error. */
export function checked<Schema extends z.ZodType>(schema: Schema, value: unknown, where: string): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw invalid(`${where}: ${describeProblems(parsed.error)}`);
}

/** A JSON file checked against the schema of what it holds. */
export function readJsonFile<Schema extends z.ZodType>(file: string, schema: Schema): z.output<Schema> {
  const parsed = parseJson(readText(file));
  if ("error" in parsed) throw invalid(`${file} is not JSON: ${parsed.error}`);
  return checked(schema, parsed.value, file);
}
