import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A TCP proxy in front of Postgres that a test can cut and restore, to play a database restart
 * without stopping the Postgres other test files share.
 */
export type TcpProxy = {
  port: number;
  /** How many connections it has accepted so far (a client's attempts to reconnect among them). */
  connections(): number;
  cut(): Promise<void>;
  /**
   * The next connection that sends a statement containing `marker` has its next COMMIT carried out
   * and the answer lost: the proxy drops the connection when Postgres says it committed, before the
   * client hears it (a session ended just after commit). Resolves once it has.
   */
  loseCommitAnswerAfter(marker: string): Promise<void>;
  /** The next message a client sends that contains `marker` is held back for good. Resolves once it is. */
  holdNext(marker: string): Promise<void>;
  /**
   * The open connections whose client has sent `marker` (a request line, `GET /events`) pass nothing
   * more either way, and stay open: a link that died while a laptop slept, which neither end hears
   * of. Other connections, and new ones, pass as before.
   */
  stall(marker: string): void;
  restore(): Promise<void>;
  close(): Promise<void>;
};

/** Postgres's CommandComplete for a COMMIT carries this tag. */
const committed = Buffer.from("COMMIT\0");

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const stallers = new Set<(marker: Buffer) => boolean>();
  let commitToLose: { marker: Buffer; lost: () => void } | undefined;
  let toHold: { marker: Buffer; held: () => void } | undefined;
  let port = 0;
  let accepted = 0;
  let server: Server;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        accepted++;
        const upstream = connect(targetPort, targetHost);
        sockets.add(client).add(upstream);
        upstream.pipe(client);
        let stalled = false;
        // What the client sent, enough of it to find a request line in.
        let sent = Buffer.alloc(0);
        const stall = (marker: Buffer) => {
          if (!sent.includes(marker)) return false;
          stalled = true;
          upstream.unpipe(client);
          return true;
        };
        stallers.add(stall);
        client.on("data", (chunk: Buffer) => {
          if (stalled) return;
          sent = Buffer.concat([sent, chunk]).subarray(-16_384);
          if (!toHold || !chunk.includes(toHold.marker)) return upstream.write(chunk);
          toHold.held();
          toHold = undefined;
        });
        const drop = () => {
          stallers.delete(stall);
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on("error", drop).on("close", drop);
        client.on("data", (chunk: Buffer) => {
          if (!commitToLose || !chunk.includes(commitToLose.marker)) return;
          const { lost } = commitToLose;
          commitToLose = undefined;
          // From now on Postgres's answers on this connection are looked at before they are passed on.
          upstream.unpipe(client);
          upstream
            .on("data", (answer: Buffer) => {
              if (!answer.includes(committed)) return client.write(answer);
              drop();
              lost();
            })
            .resume();
        });
        upstream.on("error", drop).on("close", drop);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      server.close(() => resolve());
    });
  await listen();
  return {
    port,
    connections: () => accepted,
    cut: stop,
    restore: listen,
    close: stop,
    loseCommitAnswerAfter: (marker) => new Promise((lost) => (commitToLose = { marker: Buffer.from(marker), lost })),
    holdNext: (marker) => new Promise((held) => (toHold = { marker: Buffer.from(marker), held })),
    stall(marker) {
      for (const stall of stallers) if (stall(Buffer.from(marker))) stallers.delete(stall);
    },
  };
}
