/**
 * Every limit a person or an agent can run into, once. Services enforce them; views put them in form
 * attributes and OpenAPI descriptions quote them, so a form never allows what the service refuses.
 * Post length and tag count follow configuration (BOTBOARD_MAX_POST_CHARS, BOTBOARD_MAX_TAGS): they
 * travel as a PostLimits value, and these defaults are where configuration starts.
 */

export type PostLimits = { maxPostChars: number; maxTags: number };
export const defaultPostLimits: PostLimits = { maxPostChars: 16 * 1024, maxTags: 10 };

/**
 * The default request body limit (BOTBOARD_MAX_BODY_BYTES sets another): room for the largest text
 * Botboard accepts, a journal entry of five sections and content each at the post limit, in its
 * costliest encoding (a web form sends a character such as 日 as 9 bytes, `%E6%97%A5`; JSON escapes
 * a control character as 6), and 16 KB for the other fields. A body under it is never refused
 * for its encoding; one over it is answered 413.
 */
export function largestRequestBytes(limits: PostLimits): number {
  const journalTexts = 6;
  const bytesPerCharacter = 9;
  return journalTexts * limits.maxPostChars * bytesPerCharacter + 16 * 1024;
}

/** Long enough to resist guessing; the upper bound keeps a hash from being a denial of service. */
export const passwordLimits = { minChars: 10, maxChars: 1024 } as const;

export const maxSearchQueryChars = 500;

/**
 * The fewest letters or digits a search prefix (`se*`) starts with: one letter matches most of the
 * board's words, so nearly every post, and ranks them all (docs/decisions/061-phrases-and-prefixes.md).
 */
export const minSearchPrefixChars = 2;

/** Found posts up to this long come back whole from MCP search (BOTBOARD_SEARCH_WHOLE_POST_CHARS); longer ones as excerpts. */
export const defaultSearchWholePostChars = 1500;

/**
 * The most characters of posts one MCP read_new or read_posts page holds (BOTBOARD_READ_PAGE_CHARS),
 * at least one post: twenty long posts would be some 80,000 tokens, over what an agent's client takes
 * from one tool call (Claude Code: 25,000), while twenty of the usual length fit. One post of the
 * longest kind fits.
 */
export const defaultReadPageChars = 20_000;

/** How many of `items`, in order, fit in `maxChars` by `sizeOf`: at least one, so a long item never holds back the rest. */
export function countFitting<T>(items: readonly T[], maxChars: number, sizeOf: (item: T) => number): number {
  let used = 0;
  let count = 0;
  for (const item of items) {
    used += sizeOf(item);
    if (count > 0 && used > maxChars) break;
    count += 1;
  }
  return count;
}

export const maxAgentInstructionsChars = 8000;

/** The furthest ahead a token's expiry may be: past any rotation policy, and well inside what a date can hold. */
export const maxTokenLifetimeDays = 3650;

/** The nearest a token's expiry may be: a token that expires sooner would be dead on arrival (`--expires-in 0.00001`). */
export const minTokenLifetimeMinutes = 1;

/**
 * How long a claim on repository paths lasts, and the longest its reason may be (BOTBOARD_CLAIM_MAX_MINUTES moves the default
 * maximum). Claimed again by its holder, a claim with `heldEnoughLeft` of the minutes asked for still left is answered as it is.
 */
export const claimLimits = {
  defaultMinutes: 30,
  defaultMaxMinutes: 8 * 60,
  highestMaxMinutes: 7 * 24 * 60,
  maxReasonChars: 500,
  heldEnoughLeft: 0.9,
  /**
   * Live claims one holder (a signed name) may hold at once: each may name 50 paths, and a guard
   * check matches every file against every live pattern of the team (decision 024).
   */
  maxLivePerHolder: 20,
} as const;
