import { Hono, type Context, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { clientSetups } from "../../domain/agent-setup.ts";
import { addAgentToken, agentActivity, listAgents, revokeAgentTokens } from "../../domain/agents.ts";
import { listAudit } from "../../domain/audit.ts";
import { requireAdmin } from "../../domain/callers.ts";
import type { Config } from "../../config.ts";
import type { Db } from "../../db/client.ts";
import { httpStatusOf, notFound, type ErrorKind } from "../../domain/errors.ts";
import { appErrorOf } from "../../domain/failures.ts";
import { holdForOneView, takeOneTimeView } from "../../domain/one-time-views.ts";
import { listOAuthConnections } from "../../domain/oauth.ts";
import { deletePost } from "../../domain/posts.ts";
import { listPosts } from "../../domain/feed.ts";
import { postIdSchema } from "../../domain/schemas.ts";
import { agentInstructionsOf, getTeam, setAgentInstructions, setRepositoryUrl } from "../../domain/teams.ts";
import {
  cancelInvite,
  deleteEngineer,
  disableEngineer,
  enableEngineer,
  listEngineers,
  listOpenInvites,
  setEngineerRole,
} from "../../domain/engineers.ts";
import { createInvite, setupLink } from "../../domain/users.ts";
import { createWebhook, deleteWebhook, listWebhookDeliveries, listWebhooks } from "../../domain/webhooks.ts";
import { revealInvisibleCharacters } from "../../domain/untrusted-text.ts";
import { AdminPage, AgentCreatedPage, type AdminFormError, type AdminNotice } from "../../../views/pages/admin.tsx";
import { AgentPage, AgentsPage } from "../../../views/pages/agents.tsx";
import { EngineersPage } from "../../../views/pages/engineers.tsx";
import { pageOf, parseWith, reachableUrlOf, type WebEnv } from "./session.ts";
import { readForm } from "../middleware/form-body.ts";

const activityDays = 14;

/** Refusals of what was typed, shown beside the form; anything else (a member's 403) gets the error page. */
const inlineKinds = new Set<ErrorKind>(["invalid", "not_found", "conflict", "unprocessable"]);

const newAgentSchema = z.object({
  name: z.string({ error: "name is required" }).max(100),
  scopes: z.union([z.string(), z.array(z.string())]).optional(),
  pickName: z.string().optional(),
});
const revokeSchema = z.object({ target: z.string({ error: "target is required" }).min(1, "target is required").max(100) });
const inviteSchema = z.object({ role: z.enum(["admin", "member"], { error: "role must be admin or member" }) });
const instructionsSchema = z.object({ instructions: z.string().default("") });
const repositorySchema = z.object({ repositoryUrl: z.string({ error: "repositoryUrl is required" }).max(2000) });
const deleteSchema = z.object({ postId: postIdSchema });
const newTokenViewSchema = z.object({ agentName: z.string(), token: z.string() });
const newInviteViewSchema = inviteSchema.extend({ link: z.string(), expiresAt: z.string() });
const newWebhookSchema = z.object({
  url: z.string({ error: "url is required" }),
  format: z.string({ error: "format is required: slack or json" }),
  tags: z.string().default(""),
  mentions: z.string().default(""),
  urgent: z.string().optional(),
});
const newWebhookViewSchema = z.object({ shownUrl: z.string(), format: z.enum(["slack", "json"]), secret: z.string() });
const listOf = (text: string) => text.split(/[\s,]+/).filter(Boolean);
const roleSchema = z.object({ role: z.enum(["admin", "member"], { error: "role must be admin or member" }) });
const confirmationSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("revoked"), prefixes: z.array(z.string()) }),
  z.object({ kind: z.literal("saved") }),
  z.object({ kind: z.literal("repository"), repositoryUrl: z.string().nullable() }),
  z.object({ kind: z.literal("deleted"), postId: z.number() }),
]) satisfies z.ZodType<AdminNotice>;

/** /agents for everyone in the team; /admin and its forms for the team's admins (checked by the services too). */
export function adminRoutes(db: Db, config: Config, engineer: MiddlewareHandler<WebEnv>) {
  const routes = new Hono<WebEnv>();

  routes.get("/agents", engineer, async (c) => {
    const agents = await listAgents(db, c.get("caller").teamId);
    return c.html(AgentsPage({ page: pageOf(c), agents }));
  });

  routes.get("/agents/:name", engineer, async (c) => {
    const caller = c.get("caller");
    const name = c.req.param("name");
    const agent = (await listAgents(db, caller.teamId)).find((candidate) => candidate.name === name);
    if (!agent) throw notFound(`No agent '${revealInvisibleCharacters(name.slice(0, 64))}' in your team.`);
    const [activity, recent] = await Promise.all([
      agentActivity(db, caller.teamId, agent.id, activityDays),
      listPosts(db, caller, { limit: 20, author: agent.name }),
    ]);
    return c.html(AgentPage({ page: pageOf(c), agent, activity, posts: recent.posts }));
  });

  async function renderAdmin(c: Context<WebEnv>, notice?: AdminNotice, formError?: AdminFormError) {
    const caller = c.get("caller");
    requireAdmin(caller);
    const [agents, engineers, audit, team, oauthConnections, webhooks, webhookDeliveries] = await Promise.all([
      listAgents(db, caller.teamId),
      listEngineers(db, caller, caller.teamId),
      listAudit(db, caller.teamId, 50),
      getTeam(db, caller.teamId),
      listOAuthConnections(db, caller),
      listWebhooks(db, caller),
      listWebhookDeliveries(db, caller),
    ]);
    const page = AdminPage({
      page: pageOf(c),
      agents,
      engineers,
      audit,
      oauthConnections,
      webhooks,
      webhookDeliveries,
      instructions: agentInstructionsOf(team),
      repositoryUrl: team.repositoryUrl,
      notice,
      formError,
    });
    return c.html(page, formError ? httpStatusOf[formError.kind] : 200);
  }

  /** A refusal of what was typed into an admin form: the page again, the message beside that form, the input kept. */
  async function refuseInline(c: Context<WebEnv>, caught: unknown, form: AdminFormError["form"], value: string) {
    const error = appErrorOf(caught);
    if (!error || !inlineKinds.has(error.kind)) throw caught;
    return renderAdmin(c, undefined, { form, kind: error.kind, message: error.message, value: value.slice(0, 200) });
  }

  routes.get("/admin", engineer, (c) => renderAdmin(c));

  /**
   * Post/Redirect/Get for a change: the form answers with a redirect to a page that shows what was
   * done, once, so a reload or Back repeats nothing (and refuses nothing: the page comes back without it).
   */
  async function confirmDone(c: Context<WebEnv>, confirmation: z.infer<typeof confirmationSchema>) {
    const viewId = await holdForOneView(db, c.get("sessionToken"), confirmation);
    return c.redirect(`/admin/done/${viewId}`, 303);
  }

  routes.get("/admin/done/:view", engineer, async (c) => {
    requireAdmin(c.get("caller"));
    const held = confirmationSchema.safeParse(await takeOneTimeView(db, c.get("sessionToken"), c.req.param("view").slice(0, 100)));
    return renderAdmin(c, held.success ? held.data : undefined);
  });

  /** The secret a Post/Redirect/Get form held for this session, taken out once; `gone` explains a reload. */
  async function takeHeldView<T extends z.ZodType>(c: Context<WebEnv>, schema: T, gone: string): Promise<z.infer<T>> {
    requireAdmin(c.get("caller"));
    const held = schema.safeParse(await takeOneTimeView(db, c.get("sessionToken"), c.req.param("view")!.slice(0, 100)));
    if (!held.success) throw notFound(gone);
    return held.data;
  }

  // Post/Redirect/Get: the form's answer is a redirect, so a reload or Back cannot make another token.
  routes.post("/admin/agents", engineer, async (c) => {
    const caller = c.get("caller");
    const body = await readForm(c);
    let created: Awaited<ReturnType<typeof addAgentToken>>;
    try {
      const form = parseWith(newAgentSchema, body);
      const scopes = form.scopes === undefined ? [] : [form.scopes].flat();
      created = await addAgentToken(db, caller, { teamId: caller.teamId, name: form.name, scopes, pickName: form.pickName === "on" });
    } catch (caught) {
      return refuseInline(c, caught, "agent", typeof body.name === "string" ? body.name : "");
    }
    const viewId = await holdForOneView(db, c.get("sessionToken"), { agentName: created.agent.name, token: created.token });
    return c.redirect(`/admin/agents/created/${viewId}`, 303);
  });

  routes.get("/admin/agents/created/:view", engineer, async (c) => {
    const { agentName, token } = await takeHeldView(
      c,
      newTokenViewSchema,
      "This token was shown once and is not kept. If it was not copied, revoke it on the admin page and create another.",
    );
    return c.html(AgentCreatedPage({ page: pageOf(c), agentName, token, setups: clientSetups(reachableUrlOf(c, config), token) }));
  });

  routes.post("/admin/tokens/revoke", engineer, async (c) => {
    const caller = c.get("caller");
    const { target } = parseWith(revokeSchema, await readForm(c));
    const revoked = await revokeAgentTokens(db, caller, caller.teamId, target);
    return confirmDone(c, { kind: "revoked", prefixes: revoked });
  });

  // The same for a set-up link: a reload or Back makes no other live invite.
  routes.post("/admin/invites", engineer, async (c) => {
    const caller = c.get("caller");
    const { role } = parseWith(inviteSchema, await readForm(c));
    const invite = await createInvite(db, caller, { teamId: caller.teamId, role });
    const link = setupLink(reachableUrlOf(c, config), invite.secret);
    const viewId = await holdForOneView(db, c.get("sessionToken"), { link, role, expiresAt: invite.expiresAt.toISOString() });
    return c.redirect(`/admin/invites/created/${viewId}`, 303);
  });

  routes.get("/admin/invites/created/:view", engineer, async (c) => {
    const { link, role, expiresAt } = await takeHeldView(
      c,
      newInviteViewSchema,
      "This set-up link was shown once and is not kept. If it was not copied, create another (the unused one expires within the hour).",
    );
    return renderAdmin(c, { kind: "invited", link, role, expiresAt: new Date(expiresAt) });
  });

  // Post/Redirect/Get, as for tokens: the signing secret is shown once, on the page the redirect opens.
  routes.post("/admin/webhooks", engineer, async (c) => {
    const body = await readForm(c);
    let created: Awaited<ReturnType<typeof createWebhook>>;
    try {
      const form = parseWith(newWebhookSchema, body);
      created = await createWebhook(db, c.get("caller"), {
        url: form.url,
        format: form.format,
        tags: listOf(form.tags),
        mentions: listOf(form.mentions),
        urgent: form.urgent === "on",
      });
    } catch (caught) {
      return refuseInline(c, caught, "webhook", typeof body.url === "string" ? body.url : "");
    }
    const { shownUrl, format } = created.webhook;
    const viewId = await holdForOneView(db, c.get("sessionToken"), { shownUrl, format, secret: created.secret });
    return c.redirect(`/admin/webhooks/created/${viewId}`, 303);
  });

  routes.get("/admin/webhooks/created/:view", engineer, async (c) => {
    const held = await takeHeldView(
      c,
      newWebhookViewSchema,
      "This webhook's secret was shown once and is not kept on any page. If it was not copied, delete the webhook and add it again.",
    );
    return renderAdmin(c, { kind: "webhook", ...held });
  });

  routes.post("/admin/webhooks/:id/delete", engineer, async (c) => {
    await deleteWebhook(db, c.get("caller"), c.req.param("id"));
    return c.redirect("/admin#webhooks", 303);
  });

  routes.post("/admin/instructions", engineer, async (c) => {
    const caller = c.get("caller");
    const { instructions } = parseWith(instructionsSchema, await readForm(c));
    await setAgentInstructions(db, caller, caller.teamId, instructions);
    return confirmDone(c, { kind: "saved" });
  });

  routes.post("/admin/repository", engineer, async (c) => {
    const caller = c.get("caller");
    const body = await readForm(c);
    const typed = typeof body.repositoryUrl === "string" ? body.repositoryUrl : "";
    let saved: string | null;
    try {
      const { repositoryUrl } = parseWith(repositorySchema, body);
      saved = await setRepositoryUrl(db, caller, caller.teamId, repositoryUrl);
    } catch (caught) {
      return refuseInline(c, caught, "repository", typed);
    }
    return confirmDone(c, { kind: "repository", repositoryUrl: saved });
  });

  routes.post("/admin/posts/delete", engineer, async (c) => {
    const body = await readForm(c);
    let postId: number;
    try {
      ({ postId } = parseWith(deleteSchema, body));
      await deletePost(db, c.get("caller"), postId);
    } catch (caught) {
      return refuseInline(c, caught, "delete", typeof body.postId === "string" ? body.postId : "");
    }
    return confirmDone(c, { kind: "deleted", postId });
  });

  routes.get("/admin/engineers", engineer, async (c) => {
    const caller = c.get("caller");
    const [engineers, invites] = await Promise.all([listEngineers(db, caller, caller.teamId), listOpenInvites(db, caller, caller.teamId)]);
    return c.html(EngineersPage({ page: pageOf(c), engineers, invites }));
  });

  // Each change answers with a redirect to the list (Post/Redirect/Get): a reload repeats nothing.
  routes.post("/admin/engineers/:username/role", engineer, async (c) => {
    const caller = c.get("caller");
    const { role } = parseWith(roleSchema, await readForm(c));
    await setEngineerRole(db, caller, caller.teamId, c.req.param("username"), role);
    return c.redirect("/admin/engineers", 303);
  });

  const accountChanges = { disable: disableEngineer, enable: enableEngineer, delete: deleteEngineer } as const;
  for (const [change, apply] of Object.entries(accountChanges)) {
    routes.post(`/admin/engineers/:username/${change}`, engineer, async (c) => {
      const caller = c.get("caller");
      await apply(db, caller, caller.teamId, c.req.param("username"));
      return c.redirect("/admin/engineers", 303);
    });
  }

  routes.post("/admin/invites/:ref/cancel", engineer, async (c) => {
    const caller = c.get("caller");
    await cancelInvite(db, caller, caller.teamId, c.req.param("ref"));
    return c.redirect("/admin/engineers", 303);
  });

  return routes;
}
