import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.ts";

/** Sends one request on an open socket and reads its whole answer (a small JSON body). */
function exchange(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = "";
    const onData = (chunk: Buffer) => {
      answer += chunk.toString();
      const [head, body] = answer.split("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(head ?? "")?.[1] ?? Number.NaN);
      if (body !== undefined && body.length >= length) {
        socket.off("data", onData);
        resolve(answer);
      }
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`the server closed the connection; read so far: ${JSON.stringify(answer)}`)));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

describe("keep-alive connections", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer("pglite");
  });
  afterAll(() => server?.close());

  it("an idle connection stays open well past Node's 5-second default, which a proxy's pooled connection would have hit", async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    try {
      const first = await exchange(socket, "/healthz");
      expect(first).toMatch(/^HTTP\/1\.1 200/);
      expect(first).toMatch(/\r\nkeep-alive: timeout=150\r\n/i);
      // Idle for longer than Node's default keep-alive (5 s): the same connection still answers.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      expect(await exchange(socket, "/healthz")).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      socket.destroy();
    }
  }, 30_000);

  it("idle connections do not hold a shutdown up", async () => {
    const other = await startTestServer("pglite");
    const socket = connect(Number(new URL(other.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const closed = new Promise((resolve) => socket.once("close", resolve));
    await exchange(socket, "/healthz");
    const started = Date.now();
    await other.close();
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);

  it("a connection that never sent a request does not hold a shutdown up (the grace period is 10 s)", async () => {
    const other = await startTestServer("pglite");
    // A client's spare connection, opened ahead of a request it never sends (undici opens such).
    const spare = connect(Number(new URL(other.url).port), "127.0.0.1");
    await new Promise((resolve) => spare.once("connect", resolve));
    const closed = new Promise((resolve) => spare.once("close", resolve));
    const started = Date.now();
    await other.close();
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);
});
