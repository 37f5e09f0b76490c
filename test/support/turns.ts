/**
 * Counts the turns of this process's event loop (one a check phase), for tests that say how much
 * work a server in this process starts per turn: `current()` is the turn now, `stop()` ends the count.
 */
export function countEventLoopTurns(): { current(): number; stop(): void } {
  let turn = 0;
  let next: NodeJS.Immediate | undefined;
  const count = () => {
    turn++;
    next = setImmediate(count);
  };
  count();
  return { current: () => turn, stop: () => clearImmediate(next) };
}
