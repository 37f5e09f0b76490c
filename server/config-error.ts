/**
 * A problem with the environment the command runs in (a variable, a folder, a port), not a bug: the
 * command line prints its message as one line and exits 78 (EX_CONFIG). Apart from config.ts so that
 * the database layer can throw it without importing what the configuration reads.
 */
export class ConfigError extends Error {}
