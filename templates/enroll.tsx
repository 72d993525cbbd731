/** @jsxImportSource @kitajs/html */
/** "Add client" and the enrollment panel shown after adding or rotating (the token appears only then). */
import type { Enrollment } from "../src/server/enrollment.ts";
import { CsrfField } from "./components.tsx";
import type { PageContext } from "./context.ts";
import { Layout, Notice, PageHeader } from "./layout.tsx";

/** A systemd instance name: the client's name reduced to what unit names and netns names accept. */
export const namespaceSlug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 32) || "vpn";

function CopyBlock({ id, label, text }: { id: string; label: string; text: string }) {
  return (
    <section class="copy-block" aria-labelledby={`${id}-label`}>
      <div class="copy-head">
        <span class="copy-label" id={`${id}-label`} safe>
          {label}
        </span>
        <button
          type="button"
          class="button secondary small"
          data-copy={`#${id}`}
          aria-describedby={`${id}-label`}
        >
          Copy
        </button>
      </div>
      <pre id={id} tabindex="0" safe>
        {text}
      </pre>
    </section>
  );
}

export function EnrollmentPanel({ e, publicUrl }: { e: Enrollment; publicUrl: string }) {
  const ns = namespaceSlug(e.name);
  const envFile = `# /etc/vpn-sentinel/client-${ns}.env  (chmod 600)\nSENTINEL_SERVER=${publicUrl}\nSENTINEL_TOKEN=${e.token}`;
  const systemd = `sudo install -m 600 /dev/stdin /etc/vpn-sentinel/client-${ns}.env <<'EOF'\nSENTINEL_SERVER=${publicUrl}\nSENTINEL_TOKEN=${e.token}\nEOF\nsudo systemctl enable --now vpn-sentinel-client@${ns}`;
  const netns = `sudo ip netns exec ${ns} env SENTINEL_TOKEN='${e.token}' sentinel client --server ${publicUrl}`;
  return (
    <section class="card enroll" aria-labelledby="enroll-title">
      <h2 id="enroll-title" safe>{`Connect ${e.name}`}</h2>
      <Notice kind="info" text="The token is shown only now. Copy it before you leave this page." />
      <CopyBlock id="enroll-command" label="Run inside the VPN (quick test)" text={e.command} />
      <CopyBlock id="enroll-systemd" label={`systemd, in network namespace “${ns}”`} text={systemd} />
      <CopyBlock id="enroll-netns" label="Ad hoc, in a network namespace" text={netns} />
      <details class="small">
        <summary>Environment file only</summary>
        <pre safe>{envFile}</pre>
      </details>
    </section>
  );
}

export function AddClientPage({ ctx, error, name }: { ctx: PageContext; error?: string; name?: string }) {
  return (
    <Layout ctx={ctx} title="Add client">
      <PageHeader
        title="Add client"
        sub="A client runs inside the VPN's network namespace and reports what the world sees."
      />
      <section class="card narrow" aria-labelledby="add-title">
        <h2 id="add-title">Name it</h2>
        {error ? <Notice kind="error" text={error} /> : null}
        <form method="post" action="/clients">
          <CsrfField token={ctx.csrf} />
          <div class="field">
            <label for="c-name">Client name</label>
            <input
              id="c-name"
              name="name"
              required
              maxlength="64"
              value={name ?? ""}
              placeholder="e.g. living-room-pi"
              autocomplete="off"
            />
            <p class="hint">Shown on the dashboard and in alerts.</p>
          </div>
          <div class="form-actions">
            <button type="submit" class="button">
              Create client
            </button>
          </div>
        </form>
      </section>
    </Layout>
  );
}

export function EnrolledPage({
  ctx,
  e,
  publicUrl,
  rotated,
}: {
  ctx: PageContext;
  e: Enrollment;
  publicUrl: string;
  rotated?: boolean;
}) {
  return (
    <Layout ctx={ctx} title={rotated ? `New secret for ${e.name}` : `Added ${e.name}`}>
      <PageHeader
        title={rotated ? `New secret for ${e.name}` : `Added ${e.name}`}
        sub={rotated ? "The old secret keeps working for 24 hours." : undefined}
      >
        <a class="button secondary" href={`/clients/${encodeURIComponent(e.id)}`}>
          Open client
        </a>
      </PageHeader>
      <EnrollmentPanel e={e} publicUrl={publicUrl} />
    </Layout>
  );
}
