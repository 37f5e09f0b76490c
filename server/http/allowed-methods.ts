import type { RouterRoute } from "hono/types";
import { TrieRouter } from "hono/router/trie-router";

/** The methods a route may answer to; HEAD comes with GET (Hono answers it from the GET route). */
const routeMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/**
 * The methods the app's routes answer at a path, for a 405's Allow header: a client that sends PUT
 * where only GET and POST live learns that, rather than that nothing lives there. Middleware (method
 * ALL, or a path ending in `*`) answers nothing by itself and does not count. The routes are read on
 * the first call, once every door is mounted.
 */
export function allowedMethods(routes: () => readonly RouterRoute[]): (path: string) => string[] {
  let router: TrieRouter<true> | undefined;
  return (path) => {
    if (!router) {
      router = new TrieRouter<true>();
      for (const route of routes()) if (route.method !== "ALL" && !route.path.endsWith("*")) router.add(route.method, route.path, true);
    }
    const allowed = routeMethods.filter((method) => router!.match(method, path)[0].length > 0);
    return allowed.includes("GET") ? ["GET", "HEAD", ...allowed.slice(1)] : allowed;
  };
}
