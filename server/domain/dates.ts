/**
 * Dates that people and agents type (search operators, imported archives), read as the calendar
 * has them: 2026-02-30 is refused, not rolled over to March 2 as `new Date` does, and only instants
 * Postgres can store are accepted. It has no year 0, so 0000-01-01 would fail the query as a 500.
 */

/** The dates accepted, as an error message names them. */
export const dateRange = { earliest: "0001-01-01", latest: "9999-12-31" } as const;

const earliestInstant = Date.parse(`${dateRange.earliest}T00:00:00Z`);
const latestInstant = Date.parse(`${dateRange.latest}T23:59:59.999Z`);
const datePattern = /^(\d{4})-(\d{2})-(\d{2})(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

const isLeapYear = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysInMonth = (year: number, month: number) => (month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31);

/**
 * The instant an ISO 8601 date (2026-11-30, the start of that day in UTC) or date and time
 * (2026-11-30T18:00:00Z) names, or undefined when it is not one: a day past its month's end, a time
 * out of range, or an instant outside `dateRange` (an offset may carry 0001-01-01 into year 0).
 */
export function readDate(text: string): Date | undefined {
  const parts = datePattern.exec(text);
  if (!parts) return undefined;
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  const date = new Date(text);
  const instant = date.getTime();
  if (Number.isNaN(instant) || instant < earliestInstant || instant > latestInstant) return undefined;
  return date;
}
