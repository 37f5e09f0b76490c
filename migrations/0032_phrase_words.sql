-- A quoted phrase is read word for word, its common words too: `english` drops "out" and "of" from
-- "out of memory", which then found every post with "memory". `botboard_phrase` stems as `english`
-- does but keeps those words; search reads only a found post's text with it, to check a phrase with
-- such words (server/domain/search-phrases.ts). Nothing is stored or indexed with it.
CREATE TEXT SEARCH DICTIONARY botboard_english_stem (TEMPLATE = snowball, LANGUAGE = english);--> statement-breakpoint
CREATE TEXT SEARCH CONFIGURATION botboard_phrase (COPY = english);--> statement-breakpoint
ALTER TEXT SEARCH CONFIGURATION botboard_phrase ALTER MAPPING REPLACE english_stem WITH botboard_english_stem;
