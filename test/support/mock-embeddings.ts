import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { text as readBody } from "node:stream/consumers";

/**
 * An OpenAI-compatible embeddings endpoint for tests, with vectors that are deterministic and whose
 * nearness is known: each word adds 1 to one of 256 dimensions picked by hashing its concept, and the
 * words of a concept below share it (`car` and `automobile` are one dimension), so texts with no word
 * in common are near when their words share concepts.
 */
export const mockConcepts: string[][] = [
  ["car", "automobile", "vehicle", "sedan"],
  ["database", "postgres", "datastore"],
  ["outage", "downtime", "offline"],
];
const dimensions = 256;
const stopWords = new Set(["a", "an", "the", "on", "in", "of", "to", "is", "and", "for", "during"]);
/** A text holding this is refused with a 400, as an endpoint refuses a text over its model's limit. */
export const refusedMarker = "REFUSEME";

function conceptOf(word: string): string {
  return mockConcepts.find((group) => group.includes(word))?.[0] ?? word;
}

function dimensionOf(concept: string): number {
  let hash = 2166136261;
  for (const character of concept) hash = Math.imul(hash ^ character.charCodeAt(0), 16777619);
  return (hash >>> 0) % dimensions;
}

export function mockEmbedding(text: string): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    if (!stopWords.has(word)) vector[dimensionOf(conceptOf(word))]! += 1;
  }
  return vector;
}

export type MockEmbeddings = {
  url: string;
  /** Every batch of texts asked for, in order, with the model and authorization sent. */
  requests: { model: string; input: string[]; authorization: string | undefined }[];
  /** Stops answering: connections are refused until `up`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
};

export async function startMockEmbeddings(): Promise<MockEmbeddings> {
  const requests: MockEmbeddings["requests"] = [];
  const server: Server = createServer(async (request, response) => {
    const body = JSON.parse(await readBody(request)) as { model: string; input: string[] };
    requests.push({ model: body.model, input: body.input, authorization: request.headers.authorization });
    if (body.input.some((text) => text.includes(refusedMarker))) {
      response.writeHead(400, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: "input refused" } }));
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        object: "list",
        model: body.model,
        data: body.input.map((text, index) => ({ object: "embedding", index, embedding: mockEmbedding(text) })),
      }),
    );
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}/v1/embeddings`,
    requests,
    down: stop,
    up: () => listen(port),
    close: async () => {
      if (server.listening) await stop();
    },
  };
}
