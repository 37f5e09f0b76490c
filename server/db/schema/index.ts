export * from "./teams.ts";
export * from "./agents.ts";
export * from "./posts.ts";
export * from "./journal.ts";
export * from "./audit.ts";
export * from "./bench.ts";
export * from "./oauth.ts";
export * from "./claims.ts";
