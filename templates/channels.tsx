/** @jsxImportSource @kitajs/html */
/**
 * Notification channels: each one's state from its recent deliveries (working, failing since
 * T, not tried yet), its queue, and a test button.
 */
import type { ChannelStatus } from "../src/server/web/channels.ts";
import { ago, utcTime } from "../src/server/web/format.ts";
import { CsrfField, Empty, RelTime, StatusBadge } from "./components.tsx";
import { isAdmin, type PageContext } from "./context.ts";
import { Layout, Notice, PageHeader } from "./layout.tsx";

const BADGE = {
  working: { status: "green", word: "Working" },
  failing: { status: "red", word: "Failing" },
  untried: { status: "grey", word: "Not tried yet" },
} as const;

export function ChannelsPage({
  ctx,
  channels,
  notice,
  now,
}: {
  ctx: PageContext;
  channels: ChannelStatus[];
  notice?: { kind: "ok" | "error"; text: string };
  now: number;
}) {
  return (
    <Layout ctx={ctx} title="Alerts">
      <PageHeader title="Alert channels" sub="Where alerts go, and whether the last messages got through." />
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
            <ChannelCard channel={c} ctx={ctx} now={now} />
          ))}
        </div>
      )}
    </Layout>
  );
}

function ChannelCard({ channel: c, ctx, now }: { channel: ChannelStatus; ctx: PageContext; now: number }) {
  const badge = BADGE[c.state];
  return (
    <article class="card channel" aria-labelledby={`ch-${c.name}`}>
      <header class="verdict-head">
        <h2 id={`ch-${c.name}`} safe>
          {c.name}
        </h2>
        <StatusBadge status={badge.status} word={badge.word} />
      </header>
      <dl class="facts">
        {c.state === "failing" ? (
          <div class="fact">
            <dt>Failing since</dt>
            <dd>
              {c.failingSince !== null ? (
                <RelTime at={c.failingSince} text={utcTime(c.failingSince)} absolute />
              ) : (
                "start (configuration)"
              )}
            </dd>
          </div>
        ) : null}
        <div class="fact">
          <dt>Last message through</dt>
          <dd>
            <RelTime at={c.lastOkAt} text={ago(c.lastOkAt, now)} />
          </dd>
        </div>
        <div class="fact">
          <dt>Waiting</dt>
          <dd>
            {c.waiting}
            {c.oldestWaitingAt !== null ? (
              <span class="muted">
                {" "}
                (oldest <RelTime at={c.oldestWaitingAt} text={ago(c.oldestWaitingAt, now)} />)
              </span>
            ) : null}
          </dd>
        </div>
        <div class="fact">
          <dt>Gave up</dt>
          <dd>{c.failed}</dd>
        </div>
        <div class="fact wide">
          <dt>Last error</dt>
          <dd>
            {c.lastError ? (
              <>
                <span safe>{c.lastError}</span>
                {c.lastErrorAt !== null ? (
                  <span class="muted">
                    {" "}
                    (<RelTime at={c.lastErrorAt} text={ago(c.lastErrorAt, now)} />)
                  </span>
                ) : null}
              </>
            ) : (
              <span class="muted">none</span>
            )}
          </dd>
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
  );
}
