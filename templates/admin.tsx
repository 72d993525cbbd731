/** @jsxImportSource @kitajs/html */
/** Admin pages: users, API tokens, audit log. */

import type { ApiTokenRecord, AuditEntry, UserRecord } from "../src/server/store/index.ts";
import { utcTime } from "../src/server/web/format.ts";
import { CsrfField, Empty, RelTime } from "./components.tsx";
import type { PageContext } from "./context.ts";
import { Layout, Notice, PageHeader } from "./layout.tsx";

export interface Flash {
  kind: "ok" | "error" | "info";
  text: string;
}

const when = (at: number | null) =>
  at === null ? <span class="muted">never</span> : <RelTime at={at} text={utcTime(at)} absolute />;

export function UsersPage({
  ctx,
  users,
  flash,
  now,
}: {
  ctx: PageContext;
  users: UserRecord[];
  flash?: Flash;
  now: number;
}) {
  return (
    <Layout ctx={ctx} title="Users">
      <PageHeader
        title="Users"
        sub="People who can sign in to this dashboard. Viewers can look but not change anything or see secrets."
      />
      {flash ? <Notice kind={flash.kind} text={flash.text} /> : null}
      <section class="card" aria-labelledby="users-title">
        <h2 id="users-title">Accounts</h2>
        <div class="table-wrap">
          <table class="simple">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr>
                  <td>
                    <span safe>{u.name}</span>
                    {u.name === ctx.user.name ? <span class="tag">you</span> : null}
                    {u.lockedUntil !== null && u.lockedUntil > now ? (
                      <span class="tag tag-red">locked</span>
                    ) : null}
                  </td>
                  <td>{u.role}</td>
                  <td>{when(u.lastLoginAt)}</td>
                  <td class="actions">
                    {u.name === ctx.user.name ? null : (
                      <form method="post" action={`/users/${encodeURIComponent(u.id)}/delete`}>
                        <CsrfField token={ctx.csrf} />
                        <button type="submit" class="link-button danger-text" aria-label={`Remove ${u.name}`}>
                          Remove
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section class="card narrow" aria-labelledby="add-user-title">
        <h2 id="add-user-title">Add a user</h2>
        <form method="post" action="/users">
          <CsrfField token={ctx.csrf} />
          <div class="form-grid">
            <div class="field">
              <label for="u-name">Name</label>
              <input id="u-name" name="name" required maxlength="64" autocomplete="off" />
            </div>
            <div class="field">
              <label for="u-role">Role</label>
              <select id="u-role" name="role">
                <option value="viewer">viewer (read only)</option>
                <option value="admin">admin</option>
              </select>
            </div>
          </div>
          <div class="field">
            <label for="u-pass">Password (at least 10 characters)</label>
            <input
              id="u-pass"
              name="password"
              type="password"
              required
              minlength="10"
              autocomplete="new-password"
            />
          </div>
          <div class="form-actions">
            <button type="submit" class="button">
              Add user
            </button>
          </div>
        </form>
      </section>
    </Layout>
  );
}

export function TokensPage({
  ctx,
  tokens,
  created,
  flash,
}: {
  ctx: PageContext;
  tokens: ApiTokenRecord[];
  created?: { name: string; token: string };
  flash?: Flash;
}) {
  return (
    <Layout ctx={ctx} title="API tokens">
      <PageHeader
        title="API tokens"
        sub="Bearer tokens for /api/v1. Only a hash is stored; a token is shown once."
      />
      {flash ? <Notice kind={flash.kind} text={flash.text} /> : null}
      {created ? (
        <section class="card" aria-labelledby="new-token-title">
          <h2 id="new-token-title" safe>{`Token “${created.name}”`}</h2>
          <Notice kind="info" text="Copy it now: it is not shown again." />
          <section class="copy-block" aria-labelledby="new-token-label">
            <div class="copy-head">
              <span class="copy-label" id="new-token-label">
                Authorization: Bearer …
              </span>
              <button type="button" class="button secondary small" data-copy="#new-token">
                Copy
              </button>
            </div>
            <pre id="new-token" tabindex="0" safe>
              {created.token}
            </pre>
          </section>
        </section>
      ) : null}
      <section class="card" aria-labelledby="tokens-title">
        <h2 id="tokens-title">Tokens</h2>
        {tokens.length === 0 ? (
          <p class="muted">No tokens yet.</p>
        ) : (
          <div class="table-wrap">
            <table class="simple">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.map((t) => (
                  <tr class={t.revokedAt ? "revoked" : undefined}>
                    <td safe>{t.name}</td>
                    <td>{t.role}</td>
                    <td>{when(t.createdAt)}</td>
                    <td>{when(t.lastUsedAt)}</td>
                    <td class="actions">
                      {t.revokedAt ? (
                        <span class="tag">revoked</span>
                      ) : (
                        <form method="post" action={`/tokens/${encodeURIComponent(t.id)}/revoke`}>
                          <CsrfField token={ctx.csrf} />
                          <button
                            type="submit"
                            class="link-button danger-text"
                            aria-label={`Revoke ${t.name}`}
                          >
                            Revoke
                          </button>
                        </form>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card narrow" aria-labelledby="add-token-title">
        <h2 id="add-token-title">Create a token</h2>
        <form method="post" action="/tokens">
          <CsrfField token={ctx.csrf} />
          <div class="form-grid">
            <div class="field">
              <label for="t-name">Name</label>
              <input
                id="t-name"
                name="name"
                required
                maxlength="64"
                autocomplete="off"
                placeholder="e.g. home-assistant"
              />
            </div>
            <div class="field">
              <label for="t-role">Role</label>
              <select id="t-role" name="role">
                <option value="viewer">viewer (read only)</option>
                <option value="admin">admin</option>
              </select>
            </div>
          </div>
          <div class="form-actions">
            <button type="submit" class="button">
              Create token
            </button>
          </div>
        </form>
      </section>
    </Layout>
  );
}

export function AuditPage({
  ctx,
  entries,
  older,
}: {
  ctx: PageContext;
  entries: AuditEntry[];
  older: string | null;
}) {
  return (
    <Layout ctx={ctx} title="Audit log">
      <PageHeader title="Audit log" sub="Every admin action and sign-in: who, what, when and from where." />
      {entries.length === 0 ? (
        <Empty title="Nothing recorded yet" />
      ) : (
        <section class="card flush" aria-label="Audit entries">
          <div class="table-wrap">
            <table class="simple">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Target</th>
                  <th scope="col">From</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((a) => (
                  <tr>
                    <td class="nowrap">{when(a.at)}</td>
                    <td safe>{a.actor}</td>
                    <td>
                      <span class="mono" safe>
                        {a.action}
                      </span>
                      {Object.keys(a.detail).length ? (
                        <span class="muted block small" safe>
                          {Object.entries(a.detail)
                            .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
                            .join(", ")}
                        </span>
                      ) : null}
                    </td>
                    <td safe>{a.target ?? ""}</td>
                    <td class="mono" safe>
                      {a.sourceIp ?? "—"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {older ? (
        <p class="pager">
          <a href={`/audit${older}`}>Older entries</a>
        </p>
      ) : null}
    </Layout>
  );
}

export function AccountPage({ ctx, flash }: { ctx: PageContext; flash?: Flash }) {
  return (
    <Layout ctx={ctx} title="Account">
      <PageHeader title="Account" sub={`Signed in as ${ctx.user.name} (${ctx.user.role}).`} />
      {flash ? <Notice kind={flash.kind} text={flash.text} /> : null}
      <section class="card narrow" aria-labelledby="pw-title">
        <h2 id="pw-title">Change password</h2>
        <form method="post" action="/account/password">
          <CsrfField token={ctx.csrf} />
          <input type="text" name="username" value={ctx.user.name} autocomplete="username" hidden />
          <div class="field">
            <label for="a-current">Current password</label>
            <input id="a-current" name="current" type="password" required autocomplete="current-password" />
          </div>
          <div class="field">
            <label for="a-new">New password (at least 10 characters)</label>
            <input
              id="a-new"
              name="password"
              type="password"
              required
              minlength="10"
              autocomplete="new-password"
            />
          </div>
          <div class="form-actions">
            <button type="submit" class="button">
              Change password
            </button>
          </div>
        </form>
        <p class="muted small">Changing it signs you out everywhere else.</p>
      </section>
    </Layout>
  );
}
