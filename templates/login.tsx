/** @jsxImportSource @kitajs/html */
/** Sign-in, first-run setup, and the error page: the pages a visitor without a session can see. */
import type { PageContext } from "./context.ts";
import { BareLayout, Layout, Notice } from "./layout.tsx";

export function LoginPage({
  assets,
  token,
  next,
  error,
  name,
}: {
  assets: PageContext["assets"];
  token: string;
  next: string;
  error?: string;
  name?: string;
}) {
  return (
    <BareLayout title="Sign in" assets={assets}>
      <section class="card auth-card" aria-labelledby="login-title">
        <h1 id="login-title">Sign in</h1>
        {error ? <Notice kind="error" text={error} /> : null}
        <form method="post" action="/login">
          <input type="hidden" name="_csrf" value={token} />
          <input type="hidden" name="next" value={next} />
          <div class="field">
            <label for="l-name">User name</label>
            <input
              id="l-name"
              name="name"
              required
              autocomplete="username"
              autocapitalize="none"
              spellcheck="false"
              value={name ?? ""}
              autofocus
            />
          </div>
          <div class="field">
            <label for="l-pass">Password</label>
            <input id="l-pass" name="password" type="password" required autocomplete="current-password" />
          </div>
          <button type="submit" class="button block">
            Sign in
          </button>
        </form>
      </section>
      <p class="bare-foot muted small">
        Forgot your password? An admin can reset it with sentinel users passwd NAME.
      </p>
    </BareLayout>
  );
}

export function SetupPage({
  assets,
  token,
  error,
  name,
}: {
  assets: PageContext["assets"];
  token: string;
  error?: string;
  name?: string;
}) {
  return (
    <BareLayout title="Set up" assets={assets}>
      <section class="card auth-card" aria-labelledby="setup-title">
        <h1 id="setup-title">Create the first admin</h1>
        <p class="muted">This one-time link works until an admin exists.</p>
        {error ? <Notice kind="error" text={error} /> : null}
        <form method="post" action="/setup">
          <input type="hidden" name="token" value={token} />
          <div class="field">
            <label for="s-name">User name</label>
            <input
              id="s-name"
              name="name"
              required
              maxlength="64"
              autocomplete="username"
              autocapitalize="none"
              value={name ?? ""}
            />
          </div>
          <div class="field">
            <label for="s-pass">Password (at least 10 characters)</label>
            <input
              id="s-pass"
              name="password"
              type="password"
              required
              minlength="10"
              autocomplete="new-password"
            />
          </div>
          <div class="field">
            <label for="s-pass2">Repeat password</label>
            <input
              id="s-pass2"
              name="password2"
              type="password"
              required
              minlength="10"
              autocomplete="new-password"
            />
          </div>
          <button type="submit" class="button block">
            Create admin and sign in
          </button>
        </form>
      </section>
    </BareLayout>
  );
}

export function ErrorPage({
  ctx,
  assets,
  status,
  title,
  text,
}: {
  ctx?: PageContext;
  assets: PageContext["assets"];
  status: number;
  title: string;
  text: string;
}) {
  const body = (
    <section class="card auth-card" aria-labelledby="err-title">
      <p class="muted mono">{status}</p>
      <h1 id="err-title" safe>
        {title}
      </h1>
      <p safe>{text}</p>
      <p>
        <a href="/">Back to the overview</a>
      </p>
    </section>
  );
  return ctx ? (
    <Layout ctx={ctx} title={title}>
      {body}
    </Layout>
  ) : (
    <BareLayout title={title} assets={assets}>
      {body}
    </BareLayout>
  );
}
