import { Command, InvalidArgumentError, Option } from "commander";
import { ConfigError } from "../config-error.ts";
import { shownClaimPaths } from "../domain/claim-paths.ts";
import { claimRefusal } from "../domain/claim-refusals.ts";
import { revealInvisibleCharacters } from "../domain/untrusted-text.ts";
import { ServerUnreachable, serverFetch, serverUrlOf } from "../server-address.ts";

/**
 * `botboard claims` and `botboard status`: an agent's claims and status from a shell, through the
 * server's REST API with the agent's token (BOTBOARD_URL, BOTBOARD_TOKEN), like `botboard mcp`.
 */

export type ServerAddress = { url: string; token: string };

export type ClaimJson = {
  id: number;
  holder: string;
  paths: string[];
  reason: string;
  exclusive: boolean;
  expiresAt: string;
  threadId: number | null;
};

export const serverOptions = (command: Command) =>
  command
    .option("--url <url>", "the Botboard server (default: BOTBOARD_URL or http://localhost:3000)")
    .option("--token <token>", "the agent's token (default: BOTBOARD_TOKEN)");

export function addressOf(options: { url?: string; token?: string }): ServerAddress {
  const token = options.token ?? process.env.BOTBOARD_TOKEN;
  if (!token) throw new ConfigError("Give the agent token with --token or BOTBOARD_TOKEN.");
  return { url: serverUrlOf(options.url), token };
}

/** A refusal (4xx): the server's message, and its whole answer for a command that tells more of it. */
export class ServerRefused extends Error {
  constructor(
    message: string,
    readonly answer: unknown,
  ) {
    super(message);
  }
}

/**
 * Calls the REST API; a refusal (4xx) becomes ServerRefused with the server's message, and no answer,
 * or one that is not Botboard's JSON, ServerUnreachable.
 */
export async function callApi<Result>(
  address: ServerAddress,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<Result> {
  const response = await serverFetch(address.url)(`${address.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${address.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const parsed = (await response.json().catch(() => undefined)) as (Result & { error?: { message: string } }) | undefined;
  if (parsed === undefined) throw new ServerUnreachable(address.url, `it answered ${response.status}, and not with Botboard's JSON`);
  if (!response.ok) throw new ServerRefused(parsed.error?.message ?? `The server answered ${response.status}.`, parsed);
  return parsed;
}

const local = (iso: string) => iso.replace("T", " ").slice(0, 16);

/**
 * One line per claim; the reason is quoted, as its holder wrote it, with its hidden characters (a
 * bidi override) spelled out: JSON quoting escapes terminal controls but not those.
 */
export function claimLine(claim: ClaimJson): string {
  const intent = claim.exclusive ? "" : " (intent only)";
  const reason = revealInvisibleCharacters(JSON.stringify(claim.reason));
  return `#${claim.id}\t${claim.holder}\t${shownClaimPaths(claim.paths)}\tuntil ${local(claim.expiresAt)} UTC${intent}\t${reason}`;
}

function wholeMinutes(value: string): number {
  const minutes = Number(value);
  if (!Number.isInteger(minutes) || minutes < 1) throw new InvalidArgumentError("must be a whole number of minutes");
  return minutes;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Prints a refusal as the server put it and exits 1, rather than a stack trace. */
async function reporting(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof ServerRefused)) throw error;
    console.error(`botboard: ${error.message}`);
    process.exitCode = 1;
  }
}

/**
 * A refused claim told in the command line's words: the server's message names the API's
 * `exclusive: false`, where here the option is --intent. Hidden characters in reasons are spelled
 * out, as in claimLine.
 */
function refusedOnTheCommandLine(error: unknown): never {
  if (!(error instanceof ServerRefused)) throw error;
  const { conflicts } = error.answer as { conflicts?: ClaimJson[] };
  if (!conflicts) throw error;
  const inTheWay = conflicts.map((claim) => ({ ...claim, expiresAt: new Date(claim.expiresAt) }));
  throw new ServerRefused(revealInvisibleCharacters(claimRefusal(inTheWay, { intentOnly: "--intent" })), error.answer);
}

/** Claiming again what you hold answers that claim: say so, and what changed. */
function heldHeading(claim: ClaimJson, held: { extended: boolean; reasonKept: boolean }): string {
  const thread = claim.threadId === null ? "its thread" : `thread #${claim.threadId}`;
  return [
    `You already hold claim #${claim.id} on these paths; nothing new was claimed.`,
    held.extended ? " Renewed to the minutes asked for." : "",
    held.reasonKept ? ` It keeps its own reason; post in ${thread} to say more.` : "",
  ].join("");
}

export function claimsCommand(asJson: () => boolean): Command {
  const print = (value: unknown, human: string) => console.log(asJson() ? JSON.stringify(value, null, 2) : human);
  const claims = new Command("claims").description("claim the files you will edit, and see who is editing what (an agent's token)");

  serverOptions(claims.command("list", { isDefault: true }))
    .description("the team's live claims")
    .option("--path <glob>", "only claims overlapping this path (repeatable)", collect)
    .option("--agent <name>", "only this agent's claims")
    .action((options: { url?: string; token?: string; path?: string[]; agent?: string }) =>
      reporting(async () => {
        const query = new URLSearchParams([
          ...(options.path ?? []).map((path) => ["path", path]),
          ...(options.agent ? [["agent", options.agent]] : []),
        ]);
        const { claims: live } = await callApi<{ claims: ClaimJson[] }>(addressOf(options), "GET", `/claims?${query}`);
        print({ claims: live }, live.length === 0 ? "No live claims." : live.map(claimLine).join("\n"));
      }),
    );

  serverOptions(claims.command("add <paths...>"))
    .description("claim paths or globs (quote globs so the shell leaves them alone)")
    .requiredOption("-r, --reason <text>", "what you are doing")
    .option("-m, --minutes <n>", "how long (default 30)", wholeMinutes)
    .addOption(new Option("--intent", "record intent only: never refused, refuses no one"))
    .action((paths: string[], options: { url?: string; token?: string; reason: string; minutes?: number; intent?: boolean }) =>
      reporting(async () => {
        const body = { paths, reason: options.reason, minutes: options.minutes, exclusive: !options.intent };
        type Made = { claim: ClaimJson; overlapping: ClaimJson[]; alreadyHeld?: { extended: boolean; reasonKept: boolean } };
        const made = await callApi<Made>(addressOf(options), "POST", "/claims", body).catch(refusedOnTheCommandLine);
        const also = made.overlapping.length === 0 ? "" : `\nAlso on these paths:\n${made.overlapping.map(claimLine).join("\n")}`;
        print(made, `${made.alreadyHeld ? heldHeading(made.claim, made.alreadyHeld) : "Claimed:"}\n${claimLine(made.claim)}${also}`);
      }),
    );

  serverOptions(claims.command("release [id]"))
    .description("release your claim #id, or your claims overlapping --path")
    .option("--path <glob>", "release your claims overlapping this path (repeatable)", collect)
    .action((id: string | undefined, options: { url?: string; token?: string; path?: string[] }) =>
      reporting(async () => {
        const body = {
          ...(id === undefined ? {} : { claimId: Number(id.replace(/^#/, "")) }),
          ...(options.path ? { paths: options.path } : {}),
        };
        const { released } = await callApi<{ released: ClaimJson[] }>(addressOf(options), "POST", "/claims/release", body);
        print(
          { released },
          released.length === 0 ? "You held no live claim there." : `Released ${released.map((claim) => `#${claim.id}`).join(", ")}.`,
        );
      }),
    );

  serverOptions(claims.command("renew <id>"))
    .description("keep your claim #id for --minutes more, from now")
    .option("-m, --minutes <n>", "how long from now (default 30)", wholeMinutes)
    .action((id: string, options: { url?: string; token?: string; minutes?: number }) =>
      reporting(async () => {
        const path = `/claims/${encodeURIComponent(id.replace(/^#/, ""))}/renew`;
        const { claim } = await callApi<{ claim: ClaimJson }>(addressOf(options), "POST", path, { minutes: options.minutes });
        print({ claim }, `Renewed:\n${claimLine(claim)}`);
      }),
    );

  return claims;
}

export function statusCommand(asJson: () => boolean): Command {
  return serverOptions(new Command("status"))
    .description("say what you are doing now (empty text clears it), or with no text, show the team's statuses")
    .argument("[text]", "one line")
    .option("--until <time>", "stop showing it at this ISO date and time")
    .action((text: string | undefined, options: { url?: string; token?: string; until?: string }) =>
      reporting(async () => {
        const address = addressOf(options);
        type Status = { agent: string; text: string; until: string | null };
        if (text === undefined) {
          const { statuses } = await callApi<{ statuses: Status[] }>(address, "GET", "/statuses");
          const lines = statuses.map(
            (status) => `${status.agent}\t${JSON.stringify(status.text)}${status.until ? `\tuntil ${local(status.until)} UTC` : ""}`,
          );
          console.log(asJson() ? JSON.stringify({ statuses }, null, 2) : lines.join("\n") || "No statuses.");
          return;
        }
        const { status } = await callApi<{ status: Status | null }>(address, "PUT", "/status", { text, until: options.until });
        console.log(
          asJson() ? JSON.stringify({ status }, null, 2) : status ? `Status set: ${JSON.stringify(status.text)}` : "Status cleared.",
        );
      }),
    );
}
