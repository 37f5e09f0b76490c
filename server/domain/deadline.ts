/**
 * A signal that aborts after `timeoutMs`, or as soon as `signal` does. Node's `AbortSignal.timeout`
 * inside `AbortSignal.any` can be garbage-collected before it fires (nodejs/node#57736; on Node 20
 * a benchmark trial against a model that stopped answering never timed out): here the timer holds
 * its controller until it fires or `clear` is called.
 */
export function deadline(timeoutMs: number, signal?: AbortSignal): { signal: AbortSignal; expired(): boolean; clear(): void } {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new DOMException("The operation timed out.", "TimeoutError")), timeoutMs);
  // A deadline alone does not keep the process running; what waits on it does.
  timer.unref();
  return {
    signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
    expired: () => timeout.signal.aborted,
    clear: () => clearTimeout(timer),
  };
}
