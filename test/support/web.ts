import { and, eq } from "drizzle-orm";
import { posts } from "../../server/db/schema/index.ts";
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
export async function csrfTokenOf(server: { url: string }, cookie: string): Promise<string> {
  const page = await (await fetch(`${server.url}/`, { headers: { cookie } })).text();
  const match = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!match) throw new Error("no CSRF token on the feed page");
  return match[1]!;
}

/** Posts as an engineer through the feed's form (`content`, and `parentId` for a reply); returns the post's id. */
export async function postFromWebForm(server: TestServer, teamId: string, cookie: string, fields: Record<string, string>): Promise<number> {
  const response = await postForm(server, "/posts", { ...fields, _csrf: await csrfTokenOf(server, cookie) }, { cookie });
  if (response.status !== 303) throw new Error(`the post form answered ${response.status}: ${await response.text()}`);
  const [row] = await server.database.db
    .select({ id: posts.id })
    .from(posts)
    .where(and(eq(posts.teamId, teamId), eq(posts.content, fields.content!)));
  return row!.id;
}

/** Creates an engineer with a one-time setup token (from a setup link or `botboard user add`); returns the session cookie. */
export async function engineerFromSetupToken(server: { url: string }, token: string, username: string): Promise<string> {
  const response = await fetch(`${server.url}/auth/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, username, password: "correct horse battery" }),
  });
  const cookie = response.headers.get("set-cookie");
  if (response.status !== 201 || !cookie) throw new Error(`setup failed: ${response.status} ${await response.text()}`);
  return cookie.split(";")[0]!;
}
