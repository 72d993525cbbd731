/** @jsxImportSource @kitajs/html */
/** Notification channels: status from the ChannelStatusProvider, and a test button per channel. */
import type { ChannelStatus } from "../src/server/web/channels.ts";
import { CsrfField, Empty, StatusBadge } from "./components.tsx";
import { isAdmin, type PageContext } from "./context.ts";
import { Layout, Notice, PageHeader } from "./layout.tsx";

export function ChannelsPage({
  ctx,
  channels,
  notice,
}: {
  ctx: PageContext;
  channels: ChannelStatus[];
  notice?: { kind: "ok" | "error"; text: string };
}) {
  return (
    <Layout ctx={ctx} title="Alerts">
      <PageHeader title="Alert channels" sub="Where alerts go, and whether the last delivery worked." />
      {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
      {channels.length === 0 ? (
        <Empty title="No alert channel configured">
          <p>
            Configure Telegram with <span class="mono">--telegram-token</span> and{" "}
            <span class="mono">--telegram-chat</span>; see docs/alerts.md.
          </p>
        </Empty>
      ) : (
        <div class="channel-grid">
          {channels.map((c) => (
            <article class="card channel" aria-labelledby={`ch-${c.name}`}>
              <header class="verdict-head">
                <h2 id={`ch-${c.name}`} safe>
                  {c.name}
                </h2>
                <StatusBadge status={c.ok ? "green" : "red"} word={c.ok ? "Working" : "Failing"} />
              </header>
              <dl class="facts">
                <div class="fact">
                  <dt>Waiting</dt>
                  <dd>{c.pending}</dd>
                </div>
                <div class="fact">
                  <dt>Failed</dt>
                  <dd>{c.failed}</dd>
                </div>
                <div class="fact wide">
                  <dt>Last error</dt>
                  <dd>{c.lastError ? <span safe>{c.lastError}</span> : <span class="muted">none</span>}</dd>
                </div>
              </dl>
              {isAdmin(ctx) ? (
                <form method="post" action={`/channels/${encodeURIComponent(c.name)}/test`}>
                  <CsrfField token={ctx.csrf} />
                  <button type="submit" class="button secondary">
                    Send test message
                  </button>
                </form>
              ) : null}
            </article>
          ))}
        </div>
      )}
    </Layout>
  );
}
