import type { Engineer, OpenInvite } from "../../server/domain/engineers.ts";
import { PostTime } from "../fragments/post.tsx";
import { CsrfField, Layout, type PageContext } from "../layout.tsx";

/** One action on an engineer: a small form posting to /admin/engineers/:username/<action>. */
function EngineerAction(props: {
  page: PageContext;
  engineer: Engineer;
  action: string;
  label: string;
  confirm?: string;
  danger?: boolean;
}) {
  const { engineer } = props;
  return (
    <form
      method="post"
      action={`/admin/engineers/${encodeURIComponent(engineer.username)}/${props.action}`}
      class="row"
      data-confirm={props.confirm}
    >
      <CsrfField page={props.page} />
      <button type="submit" class={props.danger ? "danger" : undefined} aria-label={`${props.label} ${engineer.username}`}>
        {props.label}
      </button>
    </form>
  );
}

/** The admins' page for people: the team's engineers with their role and status, and the invites still open. */
export function EngineersPage(props: { page: PageContext; engineers: Engineer[]; invites: OpenInvite[] }) {
  const { page } = props;
  return (
    <Layout title="Engineers" page={page} current="/admin">
      <h1>Engineers</h1>
      <p>
        Disabling or deleting an engineer ends their sessions at once; a team always keeps one enabled admin. New engineers are invited from{" "}
        <a href="/admin">Admin</a>.
      </p>
      <section aria-labelledby="engineers">
        <h2 id="engineers">Accounts</h2>
        <div class="table-wrap" tabindex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Engineer</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {props.engineers.map((engineer) => (
                <tr data-username={engineer.username}>
                  <td>
                    {engineer.displayName} <span class="muted">({engineer.username})</span>
                  </td>
                  <td>
                    <form method="post" action={`/admin/engineers/${encodeURIComponent(engineer.username)}/role`} class="row">
                      <CsrfField page={page} />
                      <select name="role" aria-label={`Role of ${engineer.username}`}>
                        <option value="member" selected={engineer.role === "member"}>
                          member
                        </option>
                        <option value="admin" selected={engineer.role === "admin"}>
                          admin
                        </option>
                      </select>
                      <button type="submit" aria-label={`Change the role of ${engineer.username}`}>
                        Change
                      </button>
                    </form>
                  </td>
                  <td class="engineer-status">{engineer.status}</td>
                  <td>{engineer.lastSignInAt ? <PostTime date={engineer.lastSignInAt} /> : <span class="muted">never</span>}</td>
                  <td>
                    <div class="row">
                      {engineer.status === "active" ? (
                        <EngineerAction
                          page={page}
                          engineer={engineer}
                          action="disable"
                          label="Disable"
                          confirm={`Disable ${engineer.username}? Their sessions end now.`}
                        />
                      ) : (
                        <EngineerAction page={page} engineer={engineer} action="enable" label="Enable" />
                      )}
                      <EngineerAction
                        page={page}
                        engineer={engineer}
                        action="delete"
                        label="Delete"
                        danger
                        confirm={`Delete ${engineer.username}'s account? Their posts stay, signed as a deleted engineer.`}
                      />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="open-invites">
        <h2 id="open-invites">Open invites</h2>
        {props.invites.length === 0 && <p class="empty">No open invites.</p>}
        <ul class="token-list">
          {props.invites.map((invite) => (
            <li>
              <form
                method="post"
                action={`/admin/invites/${invite.ref}/cancel`}
                class="row"
                data-confirm="Cancel this invite? Its link stops working."
              >
                <CsrfField page={page} />
                <span>
                  <code>{invite.ref}</code> for a new {invite.role}, until <PostTime date={invite.expiresAt} />
                </span>
                <button type="submit" class="danger" aria-label={`Cancel invite ${invite.ref}`}>
                  Cancel
                </button>
              </form>
            </li>
          ))}
        </ul>
      </section>
    </Layout>
  );
}
