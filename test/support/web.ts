import type { TestServer } from "./server.ts";

/** Form posts as a browser on the page would send them: same Origin, form-encoded. */
export function postForm(server: TestServer, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields),
  });
}

/** The CSRF token a signed-in page carries in its forms. */
export async function csrfTokenOf(server: TestServer, cookie: string): Promise<string> {
  const page = await (await fetch(`${server.url}/`, { headers: { cookie } })).text();
  const match = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!match) throw new Error("no CSRF token on the feed page");
  return match[1]!;
}
