/**
 * The client of an OpenAI-compatible embeddings endpoint (`POST {model, input: [...]}` answered by
 * `{data: [{embedding: [...]}, ...]}`): a local server or a hosted API, named by
 * `BOTBOARD_EMBEDDINGS_URL`. Vectors come back scaled to unit length, so a dot product is their cosine.
 */

import { deadline } from "./deadline.ts";

export type EmbeddingsSettings = {
  url: string;
  model: string;
  /** Sent as a bearer token when set. */
  apiKey: string | undefined;
  /** Below this cosine a post is not near enough to a query to be a semantic result. */
  minSimilarity: number;
};

/** OpenAI's small model, for a URL of OpenAI's or of a server that serves it under that name. */
export const defaultEmbeddingsModel = "text-embedding-3-small";
/**
 * Unrelated texts score about 0 to 0.2 with common models, related ones 0.4 and up; a model whose
 * scores run higher (some put everything above 0.6) needs a higher floor.
 */
export const defaultMinSimilarity = 0.3;

/**
 * Why a call failed. `unavailable`: the endpoint could not answer now (unreachable, timed out, 5xx,
 * 429), so the texts are not to blame; `refused`: it answered that it will not embed these texts (any
 * other 4xx, or an answer that is not embeddings), which retrying the same texts will not change.
 */
export class EmbeddingsError extends Error {
  constructor(
    readonly kind: "unavailable" | "refused",
    message: string,
  ) {
    super(message);
    this.name = "EmbeddingsError";
  }
}

/** Longest one call may take: a batch for the queue, or a search's query. */
const requestTimeoutMs = 30_000;
/** A search waits for its query's vector at most this long, then searches the words alone. */
export const queryTimeoutMs = 3_000;

/** Texts are cut to this many characters before embedding: models take a few thousand tokens at most. */
export const maxEmbeddedChars = 4_000;

function unitLength(vector: number[]): Float32Array {
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0)) || 1;
  return Float32Array.from(vector, (value) => value / norm);
}

/** Embeds texts in one call, in order. */
export async function embedTexts(
  settings: EmbeddingsSettings,
  texts: string[],
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Float32Array[]> {
  // The deadline covers the answer's body too, not only its headers.
  const requestDeadline = deadline(options.timeoutMs ?? requestTimeoutMs, options.signal);
  try {
    return await requestEmbeddings(settings, texts, requestDeadline.signal);
  } finally {
    requestDeadline.clear();
  }
}

async function requestEmbeddings(settings: EmbeddingsSettings, texts: string[], signal: AbortSignal): Promise<Float32Array[]> {
  let response: Response;
  try {
    response = await fetch(settings.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}),
      },
      body: JSON.stringify({ model: settings.model, input: texts.map((text) => text.slice(0, maxEmbeddedChars)) }),
      signal,
    });
  } catch (error) {
    throw new EmbeddingsError("unavailable", `the embeddings endpoint did not answer: ${(error as Error).message}`);
  }
  if (!response.ok) {
    const detail = (await response.text().catch(() => "")).slice(0, 300);
    const kind = response.status >= 500 || response.status === 429 || response.status === 408 ? "unavailable" : "refused";
    throw new EmbeddingsError(kind, `the embeddings endpoint answered ${response.status}: ${detail}`);
  }
  const body = (await response.json().catch(() => undefined)) as { data?: { embedding?: unknown; index?: unknown }[] } | undefined;
  const data = body?.data;
  if (!Array.isArray(data) || data.length !== texts.length) {
    throw new EmbeddingsError(
      "refused",
      `the embeddings endpoint answered ${Array.isArray(data) ? data.length : "no"} embeddings for ${texts.length} texts`,
    );
  }
  // OpenAI's answers carry each embedding's index; order by it when present.
  const ordered = data.every((item) => typeof item.index === "number")
    ? [...data].sort((a, b) => (a.index as number) - (b.index as number))
    : data;
  return ordered.map((item) => {
    const vector = item.embedding;
    if (!Array.isArray(vector) || vector.length === 0 || !vector.every((value) => typeof value === "number" && Number.isFinite(value))) {
      throw new EmbeddingsError("refused", "the embeddings endpoint answered an embedding that is not a list of numbers");
    }
    return unitLength(vector);
  });
}
