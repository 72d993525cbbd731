/** @jsxImportSource @kitajs/html */
/** A client's badge links (admin): list, create (the link is shown once), revoke. */
import { utcTime } from "../src/server/web/format.ts";
import { CsrfField, Empty } from "./components.tsx";
import type { PageContext } from "./context.ts";
import { Layout, Notice, PageHeader } from "./layout.tsx";

export interface BadgeView {
  id: string;
  kind: "status" | "uptime";
  label: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

const lastShown = (b: BadgeView) => (b.lastUsedAt ? utcTime(b.lastUsedAt) : "never");

export function BadgesPanel({
  ctx,
  clientId,
  badges,
}: {
  ctx: PageContext;
  clientId: string;
  badges: BadgeView[];
}) {
  const id = encodeURIComponent(clientId);
  return (
    <section class="card" id="badges" aria-labelledby="badges-title">
      <h2 id="badges-title">Badges</h2>
      <p class="muted small">
        A status or uptime image for a status page or a README. Each link carries its own token, which reads
        this badge and nothing else, and can be revoked; it is shown once.
      </p>
      {badges.length === 0 ? (
        <Empty title="No badge links yet" />
      ) : (
        <div class="table-wrap">
          <table class="simple">
            <thead>
              <tr>
                <th scope="col">Badge</th>
                <th scope="col">Created</th>
                <th scope="col">Last shown</th>
                <th scope="col">
                  <span class="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {badges.map((b) => (
                <tr>
                  <td safe>{`${b.kind}${b.label ? ` · ${b.label}` : ""}`}</td>
                  <td safe>{utcTime(b.createdAt)}</td>
                  <td safe>{lastShown(b)}</td>
                  <td>
                    {b.revokedAt ? (
                      <span class="tag" safe>{`revoked ${utcTime(b.revokedAt)}`}</span>
                    ) : (
                      <form method="post" action={`/clients/${id}/badges/${encodeURIComponent(b.id)}/revoke`}>
                        <CsrfField token={ctx.csrf} />
                        <button type="submit" class="button secondary small-button">
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
      <form method="post" action={`/clients/${id}/badges`} class="badge-form">
        <CsrfField token={ctx.csrf} />
        <div class="field">
          <label for="b-kind">Badge</label>
          <select id="b-kind" name="kind">
            <option value="status">Status (protected, exposed, offline…)</option>
            <option value="uptime">Uptime over a period</option>
          </select>
        </div>
        <div class="field grow">
          <label for="b-label">Label (optional)</label>
          <input id="b-label" name="label" maxlength="40" placeholder="VPN" autocomplete="off" />
        </div>
        <button type="submit" class="button">
          Create badge link
        </button>
      </form>
    </section>
  );
}

export function BadgeCreatedPage({
  ctx,
  clientId,
  clientName,
  url,
  kind,
}: {
  ctx: PageContext;
  clientId: string;
  clientName: string;
  url: string;
  kind: "status" | "uptime";
}) {
  const markdown = `![${kind === "status" ? "VPN status" : "VPN uptime"}](${url})`;
  return (
    <Layout ctx={ctx} title={`Badge for ${clientName}`}>
      <PageHeader title={`Badge for ${clientName}`} sub="Copy the link now: it is not shown again.">
        <a class="button secondary" href={`/clients/${encodeURIComponent(clientId)}#badges`}>
          Back to the client
        </a>
      </PageHeader>
      <Notice kind="ok" text="Badge link created." />
      <section class="card">
        <h2>Link</h2>
        <pre class="code" id="badge-url" safe>
          {url}
        </pre>
        <button type="button" class="button secondary" data-copy="#badge-url">
          Copy link
        </button>
        <h2>Markdown</h2>
        <pre class="code" id="badge-md" safe>
          {markdown}
        </pre>
        <button type="button" class="button secondary" data-copy="#badge-md">
          Copy Markdown
        </button>
        {kind === "uptime" ? (
          <p class="muted small">
            Add <code>&amp;period=24h</code>, <code>7d</code>, <code>30d</code> (the default) or{" "}
            <code>90d</code>; <code>&amp;metric=protected</code> shows protected time instead of uptime.
          </p>
        ) : null}
      </section>
    </Layout>
  );
}
