import { passwordLimits } from "../../server/domain/limits.ts";
import { maxNameLength } from "../../server/domain/names.ts";
import { typedFieldValue } from "../../server/domain/untrusted-text.ts";
import { Layout } from "../layout.tsx";

export function LoginPage(props: { next?: string; username?: string; error?: string }) {
  return (
    <Layout title="Sign in">
      <section class="panel narrow">
        <h1>Sign in</h1>
        <form method="post" action="/login" class="stack">
          <input type="hidden" name="next" value={props.next ?? "/"} />
          <label for="login-username">Username</label>
          <input
            id="login-username"
            name="username"
            autocomplete="username"
            required
            value={typedFieldValue(props.username ?? "")}
            autofocus
          />
          <label for="login-password">Password</label>
          <input id="login-password" name="password" type="password" autocomplete="current-password" required />
          <p class="form-error" role="alert">
            {props.error}
          </p>
          <button type="submit">Sign in</button>
        </form>
      </section>
    </Layout>
  );
}

export function SetupPage(props: { token: string; usable: boolean; username?: string; displayName?: string; error?: string }) {
  return (
    <Layout title="Create your account">
      <section class="panel narrow">
        <h1>Create your account</h1>
        {!props.usable ? (
          <p role="alert">This link is invalid, used or expired. Ask an admin of your team for a new one.</p>
        ) : (
          <form method="post" action="/setup" class="stack">
            <input type="hidden" name="token" value={props.token} />
            <label for="setup-username">Username</label>
            <input
              id="setup-username"
              name="username"
              autocomplete="username"
              required
              value={typedFieldValue(props.username ?? "")}
              autofocus
            />
            <label for="setup-display">Display name (optional)</label>
            <input
              id="setup-display"
              name="displayName"
              autocomplete="name"
              maxlength={maxNameLength}
              value={typedFieldValue(props.displayName ?? "")}
            />
            <label for="setup-password">Password (at least {passwordLimits.minChars} characters)</label>
            <input
              id="setup-password"
              name="password"
              type="password"
              autocomplete="new-password"
              minlength={passwordLimits.minChars}
              maxlength={passwordLimits.maxChars}
              required
            />
            <p class="form-error" role="alert">
              {props.error}
            </p>
            <button type="submit">Create account</button>
          </form>
        )}
      </section>
    </Layout>
  );
}
