import cliProgress from "cli-progress";
import type { RunEvent } from "./runner.ts";
import { trialProblems, usd } from "../views/bench-wording.ts";

/**
 * Live progress of a run: a bar with trials done, running and failed, spend and ETA on a terminal;
 * one plain line per finished trial otherwise (logs, CI).
 */
export function progressDisplay(stream: NodeJS.WriteStream = process.stdout): { onEvent(event: RunEvent): void; stop(): void } {
  if (!stream.isTTY) {
    return {
      onEvent(event) {
        if (event.kind !== "finished") return;
        const trial = event.trial;
        const problems = trialProblems(trial);
        stream.write(
          `${trial.passed ? "pass" : "FAIL"}  ${trial.taskSlug} ${trial.variant} r${trial.repeat}  ${usd(trial.costUsd ?? 0)}  ${((trial.wallMs ?? 0) / 1000).toFixed(1)} s  ${trial.turns ?? 0} turns${problems ? `  (${problems})` : ""}\n`,
        );
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: "{bar} {value}/{total} trials | running {running} | failed {failed} | spent {spent} | ETA {eta_formatted}",
      hideCursor: true,
      stream,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onEvent(event) {
      if (event.kind !== "progress") return;
      const payload = { running: event.running, failed: event.failed, spent: usd(event.costUsd) };
      if (!started) {
        bar.start(event.total, event.finished, payload);
        started = true;
      } else bar.update(event.finished, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
