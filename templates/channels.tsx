/** @jsxImportSource @kitajs/html */
/**
 * Notification channels: each one's state from its recent deliveries (working, failing since
 * T, not tried yet), its queue, where it comes from, and a test button. Admins add channels
 * here (stored in the database) and edit or delete those; the options' channels are read-only.
 * URLs are shown with every secret masked.
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

const SCHEMES =
  "ntfy(s)://, gotify(s)://, discord+https://, slack+https://, smtp(s)://, webhook+https://, mqtt(s)://, apprise+https://, tgram://";

export interface ChannelNotice {
  kind: "ok" | "error";
  text: string;
}

const channelPath = (c: ChannelStatus, action: string) => `/channels/${encodeURIComponent(c.name)}/${action}`;

export function ChannelsPage({
  ctx,
  channels,
  notice,
  addError,
  now,
}: {
  ctx: PageContext;
  channels: ChannelStatus[];
  notice?: ChannelNotice;
  /** the add form's problem (the URL typed is not shown again: it may hold a secret) */
  addError?: string;
  now: number;
}) {
  return (
    <Layout ctx={ctx} title="Alerts">
      <PageHeader title="Alert channels" sub="Where alerts go, and whether the last messages got through." />
      {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
      {channels.length === 0 ? (
        <Empty title="No alert channel configured">
          <p>
            Add one below, or start the server with <span class="mono">--notify URL</span> or{" "}
            <span class="mono">--telegram-token</span> and <span class="mono">--telegram-chat</span>; see
            docs/alerts.md.
          </p>
        </Empty>
      ) : (
        <div class="channel-grid">
          {channels.map((c) => (
            <ChannelCard channel={c} ctx={ctx} now={now} />
          ))}
        </div>
      )}
      {isAdmin(ctx) ? <AddChannel ctx={ctx} error={addError} /> : null}
    </Layout>
  );
}

function AddChannel({ ctx, error }: { ctx: PageContext; error: string | undefined }) {
  return (
    <section class="card narrow" aria-labelledby="add-channel-title">
      <h2 id="add-channel-title">Add a channel</h2>
      {error ? <Notice kind="error" text={error} /> : null}
      <form method="post" action="/channels">
        <CsrfField token={ctx.csrf} />
        <UrlField value="" />
        <div class="form-actions">
          <button type="submit" class="button">
            Add channel
          </button>
        </div>
      </form>
    </section>
  );
}

function UrlField({ value }: { value: string }) {
  return (
    <div class="field">
      <label for="ch-url">Channel URL</label>
      <input
        id="ch-url"
        name="url"
        required
        maxlength="2048"
        autocomplete="off"
        spellcheck="false"
        class="mono"
        value={value}
        placeholder="ntfys://ntfy.sh/my-topic?min=yellow"
        aria-describedby="ch-url-hint"
      />
      <p id="ch-url-hint" class="hint">
        {`One of ${SCHEMES}, with ?only=, ?min=, ?clients= or ?tags= to route. The URL is stored sealed with the server key; its secrets are never shown again. Takes effect at once.`}
      </p>
    </div>
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
        <div class="fact wide">
          <dt>Configured</dt>
          <dd>
            {c.origin === "dashboard" ? "here (editable)" : "by the server's options (read-only)"}
            {c.url && c.url !== c.name ? (
              <span class="mono small block" safe>
                {c.url}
              </span>
            ) : null}
          </dd>
        </div>
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
        <div class="form-actions">
          <form method="post" action={channelPath(c, "test")}>
            <CsrfField token={ctx.csrf} />
            <button type="submit" class="button secondary">
              Send test message
            </button>
          </form>
          {c.origin === "dashboard" ? (
            <>
              <a class="button secondary" href={channelPath(c, "edit")}>
                Edit
              </a>
              <form method="post" action={channelPath(c, "delete")}>
                <CsrfField token={ctx.csrf} />
                <button type="submit" class="link-button danger-text" aria-label={`Delete ${c.name}`}>
                  Delete
                </button>
              </form>
            </>
          ) : null}
        </div>
      ) : null}
    </article>
  );
}

/** Editing a dashboard channel: its URL with the secrets masked; *** left as it is keeps them. */
export function EditChannelPage({
  ctx,
  channel,
  error,
}: {
  ctx: PageContext;
  channel: ChannelStatus;
  error?: string;
}) {
  return (
    <Layout ctx={ctx} title="Edit channel">
      <PageHeader title="Edit channel" sub={channel.name} />
      <section class="card narrow" aria-labelledby="edit-channel-title">
        <h2 id="edit-channel-title">Channel URL</h2>
        {error ? <Notice kind="error" text={error} /> : null}
        <p class="muted small">
          Secrets show as ***. Leave them so to keep them (on the same host only), or type new ones.
        </p>
        <form method="post" action={channelPath(channel, "edit")}>
          <CsrfField token={ctx.csrf} />
          <UrlField value={channel.url ?? channel.name} />
          <div class="form-actions">
            <button type="submit" class="button">
              Save
            </button>
            <a class="button secondary" href="/channels">
              Cancel
            </a>
          </div>
        </form>
      </section>
    </Layout>
  );
}
