import { describe, expect, it } from "vitest";
import { EventStream, eventFrame } from "../server/http/event-stream.ts";

/** The live feed's server-sent events (server/http/event-stream.ts): framing, a slow reader, a reader gone. */

const decoder = new TextDecoder();
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("an event stream", () => {
  it("frames each line of an event's data as a field of its own, and refuses a line break in its name or id", () => {
    expect(decoder.decode(eventFrame({ event: "post", id: "7", data: "{}", retry: 1000 }))).toBe(
      "event: post\ndata: {}\nid: 7\nretry: 1000\n\n",
    );
    // A line break in the data cannot start a field (an `id:` or `event:`) the server never wrote.
    expect(decoder.decode(eventFrame({ event: "post", data: "one\nid: 99\r\nevent: reload" }))).toBe(
      "event: post\ndata: one\ndata: id: 99\ndata: event: reload\n\n",
    );
    expect(() => eventFrame({ event: "post\nevent: reload", data: "{}" })).toThrow(/single lines/);
    expect(() => eventFrame({ event: "post", id: "1\nretry: 1", data: "{}" })).toThrow(/single lines/);
  });

  it("holds its writer while the reader has not taken what is queued, and lets it go as it reads", async () => {
    const stream = new EventStream();
    const reader = stream.body.getReader();
    let written = false;
    const writing = stream.write("first").then(() => {
      written = true;
    });
    await settled();
    expect(written).toBe(false);
    expect(decoder.decode((await reader.read()).value)).toBe("first");
    await writing;
    expect(written).toBe(true);

    // A reader already waiting takes a write at once.
    const reading = reader.read();
    await stream.write(new TextEncoder().encode("second"));
    expect(decoder.decode((await reading).value)).toBe("second");

    // Two writes waiting at once (a keep-alive beside an event) both go on once the reader reads.
    const both = Promise.all([stream.write("third"), stream.write("fourth")]);
    expect(decoder.decode((await reader.read()).value)).toBe("third");
    expect(decoder.decode((await reader.read()).value)).toBe("fourth");
    await both;

    stream.close();
    expect((await reader.read()).done).toBe(true);
  });

  it("says when its reader is gone, releases a waiting writer, and drops what is written after", async () => {
    const stream = new EventStream();
    const reader = stream.body.getReader();
    const aborts: string[] = [];
    stream.onAbort(() => aborts.push("before"));
    const waiting = stream.writeEvent({ event: "post", data: "{}" });
    await reader.cancel();
    await waiting;
    expect(stream.aborted).toBe(true);
    stream.onAbort(() => aborts.push("after"));
    expect(aborts).toEqual(["before", "after"]);
    await stream.write("dropped");
    stream.close();
  });
});
