/**
 * The architecture, checked (`npm run architecture`): one domain layer, doors around it, no cycles.
 * See the README's Architecture section and CONTRIBUTING.md.
 *
 * Doors: server/http (REST, compat API, web), server/cli, mcp, bench. Shared by the HTTP doors (and
 * the MCP and admin-socket transports, which are HTTP too): server/http/middleware. Composition:
 * server/app.ts, server/main.ts, server/commands.ts. Shared plumbing: server/config.ts, server/config-error.ts, server/logger.ts, server/metrics.ts, server/project-root.ts.
 */

const domain = "^server/domain/";
const db = "^server/db/";
const composition = "^server/(app|main|commands)\\.ts$";
const plumbing = "^server/(config|config-error|logger|metrics|project-root)\\.ts$";
/** Domain modules without database access that views may use: text rules, names, limits, snippets, the query language, sections. */
const pureDomain = "^server/domain/(untrusted-text|names|limits|errors|search-snippets|search-query|journal-sections)\\.ts$";

module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment: "Modules never import each other in a circle.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "domain-stays-inside",
      comment: "The domain uses the database and itself, never a door, a view or the benchmark.",
      severity: "error",
      from: { path: domain },
      to: { pathNot: [domain, db, plumbing, "^node_modules"], dependencyTypesNot: ["core"] },
    },
    {
      name: "db-below-domain",
      comment: "The database layer knows only itself (and the error kinds it maps to).",
      severity: "error",
      from: { path: db },
      to: { pathNot: [db, "^server/domain/errors\\.ts$", plumbing, "^node_modules"], dependencyTypesNot: ["core"] },
    },
    {
      name: "http-doors-apart",
      comment: "The HTTP doors do not reach into the CLI, MCP or the benchmark.",
      severity: "error",
      from: { path: "^server/http/" },
      to: { path: ["^server/cli/", "^mcp/", "^bench/", composition] },
    },
    {
      name: "cli-door-apart",
      comment: "The CLI door reaches the HTTP doors only through their shared middleware; other doors register their commands with it.",
      severity: "error",
      from: { path: "^server/cli/" },
      to: { path: ["^server/http/(?!middleware/)", "^mcp/", "^bench/", composition] },
    },
    {
      name: "mcp-door-apart",
      comment: "The MCP door uses the domain and the HTTP middleware, not another door or the composition.",
      severity: "error",
      from: { path: "^mcp/" },
      to: { path: ["^server/http/(?!middleware/)", "^server/cli/", "^bench/", "^views/", composition] },
    },
    {
      name: "bench-talks-to-the-domain",
      comment:
        "The benchmark uses the domain, starts whole servers for its trials (server/main.ts) and registers its commands with the CLI.",
      severity: "error",
      from: { path: "^bench/" },
      to: { path: ["^server/http/(?!middleware/)", "^server/(app|commands)\\.ts$"] },
    },
    {
      name: "only-composition-imports-bench",
      comment: "The benchmark is wired in by server/commands.ts, never imported by a door or the domain.",
      severity: "error",
      from: { path: "^(server|mcp|views)/", pathNot: composition },
      to: { path: "^bench/" },
    },
    {
      name: "views-render-only",
      comment: "Views receive data: from the domain they import types, and only the pure rules listed above.",
      severity: "error",
      from: { path: "^views/" },
      to: { path: domain, pathNot: pureDomain, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "views-no-db-or-doors",
      comment: "Views never reach the database, a door or the benchmark.",
      severity: "error",
      from: { path: "^views/" },
      to: { path: [db, "^server/http/", "^server/cli/", "^mcp/", "^bench/", composition] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // A git worktree may link node_modules from another checkout; resolved through the link, a
    // package would not sit under ^node_modules and every domain import of drizzle would fail.
    preserveSymlinks: true,
    exclude: { path: ["^bench/tasks/", "^test/fixtures/"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
