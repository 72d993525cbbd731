/** @jsxImportSource @kitajs/html */
/** Overview, client detail and everything an admin does to a client. */
import { Elysia } from "elysia";
import { BadgeCreatedPage } from "../../../templates/badges.tsx";
import { ClientLive, ClientPage, DeleteClientPage, SettingsPanel } from "../../../templates/client.tsx";
import { AddClientPage, EnrolledPage } from "../../../templates/enroll.tsx";
import { ClientList, OverviewPage } from "../../../templates/overview.tsx";
import { badgePath, createBadge, isBadgeKind } from "../badges/service.ts";
import { enrollClient, findClient, rotateClientSecret } from "../enrollment.ts";
import { ApiError } from "../errors.ts";
import { lockOf } from "../monitor/networks.ts";
import {
  type ClientSettings,
  normalizeTags,
  SETTING_LIMITS,
  validateSettingsChange,
} from "../monitor/settings.ts";
import type { ClientRecord } from "../store/index.ts";
import { type Auth, type Form, formText, renderSync, type Web } from "./guard.ts";
import {
  clientDetail,
  MUTE_CHOICES,
  networksView,
  type OverviewQuery,
  overview,
  overviewQueryString,
  parseOverviewQuery,
  readPolicy,
  type StripSource,
} from "./model.ts";

const DAY_MS = 86_400_000;

/** Where the overview's 24-hour strips come from: the shown clients' change-only history. */
export const stripSource = (web: Web): StripSource => ({
  rows: (ids, from, to) => web.store.history.rangeMany(ids, from, to),
  downtimes: (from, to) => web.store.history.serverDowntimes(from, to),
});

/** The detail page's data: recent events and 30 days of change-only history. */
export async function loadDetail(web: Web, c: ClientRecord) {
  const now = web.now();
  const from = now - 30 * DAY_MS;
  const events = await web.store.events.query({ clientId: c.id, limit: 200 });
  const history = {
    rows: await web.store.history.range(c.id, from, now),
    downtimes: await web.store.history.serverDowntimes(from, now),
  };
  const detail = clientDetail(c, events, history, now);
  const monitor = web.deps.monitor;
  return monitor
    ? { ...detail, networks: networksView(await monitor.learnedNetworks(c.id), c.settings) }
    : detail;
}

/** Parses the settings form into a settings change; returns an error message for bad input. */
export function settingsFromForm(
  form: Form,
  now: number,
  current: ClientSettings,
): { change: Partial<ClientSettings> } | { error: string } {
  const int = (key: string, min: number, max: number, what: string): number | null | string => {
    const raw = formText(form, key).trim();
    if (raw === "") return null;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
      return `${what} must be a whole number from ${min} to ${max}.`;
    return Number(raw);
  };
  const { interval_s, grace_s } = SETTING_LIMITS;
  const interval = int("interval_s", interval_s.min, interval_s.max, "The interval");
  if (typeof interval === "string") return { error: interval };
  const grace = int("grace_s", grace_s.min, grace_s.max, "The grace");
  if (typeof grace === "string") return { error: grace };
  const asn = int("expected_asn", 1, 4294967295, "The ASN");
  if (typeof asn === "string") return { error: asn };
  const country = formText(form, "expected_country").trim().toUpperCase();
  if (country && !/^[A-Z]{2}$/.test(country))
    return { error: "The country must be a two-letter ISO code, like DE or NL." };
  // "keep" leaves a running mute alone, so saving other settings does not shorten or lift it
  const mute = formText(form, "mute_for") || "keep";
  let mutedUntil = current.muted_until;
  if (mute === "0") mutedUntil = null;
  else if (mute !== "keep") {
    const choice = MUTE_CHOICES.find((c) => String(c.s) === mute);
    if (!choice) return { error: "Choose how long to mute alerts." };
    mutedUntil = now + choice.s * 1000;
  }
  const checked = validateSettingsChange({
    interval_s: interval,
    grace_s: grace,
    expected_asn: asn,
    expected_country: country || null,
    muted_until: mutedUntil,
    paused: formText(form, "paused") === "1",
    // a form from before tags existed (an open tab) leaves them alone
    tags: "tags" in form ? normalizeTags(formText(form, "tags")) : current.tags,
  });
  if (!checked.ok) return { error: checked.errors.map((e) => `${e.path.slice(1)} ${e.message}.`).join(" ") };
  return { change: checked.change };
}

/** How long a rendered client list is shared by the dashboards that ask for it. */
const LIST_SHARED_MS = 1000;

export function clientRoutes(web: Web) {
  const store = web.store;
  const grace = web.deps.rotateGraceMs ?? DAY_MS;

  // After a flip every open dashboard refetches its list (see stream.tsx); the ones with the
  // same filters and role get the same HTML, so it is built once per second at most. A render
  // from before a flip must not answer the refetch the flip caused (it would put the old row
  // back over the one the stream just updated): a flip, or a client added, removed or changed,
  // clears it.
  const lists = new Map<string, { at: number; html: Promise<string> }>();
  web.broker.subscribe("client.changed", () => lists.clear());
  web.broker.subscribe("client.updated", (m) => m.changed && lists.clear());
  const sharedList = (auth: Auth, request: Request, query: OverviewQuery): Promise<string> => {
    const key = `${auth.user.role}${overviewQueryString(query)}`;
    const now = web.now();
    const hit = lists.get(key);
    if (hit && now - hit.at < LIST_SHARED_MS) return hit.html;
    // the render in progress is shared too: dashboards asking at once wait for the same one
    const html = overviewOf(query).then((view) =>
      renderSync(<ClientList view={view} ctx={web.pageContext(auth, request)} />),
    );
    if (lists.size > 100) lists.clear();
    lists.set(key, { at: now, html });
    html.catch(() => lists.delete(key));
    return html;
  };
  const overviewOf = async (query: OverviewQuery) =>
    overview(await store.clients.summaries(), web.now(), query, {
      load: (ids) => store.clients.getMany(ids),
      flagged: (flag) => store.clients.withFlag(flag, web.now()),
      history: stripSource(web),
    });

  /** Loads the client for a route, or the 404 page. */
  const client = async (auth: Auth, request: Request, id: string): Promise<ClientRecord | Response> =>
    (await store.clients.get(id)) ?? web.notFound(auth, request, "client");

  const updateSettings = async (
    auth: Auth,
    request: Request,
    c: ClientRecord,
    change: Partial<ClientSettings>,
    action: string,
  ) => {
    const now = web.now();
    const after = { ...c.settings, ...change };
    await store.clients.updateSettings(c.id, after);
    await web.audit(auth.user.name, request, action, c.name, {
      client_id: c.id,
      before: readPolicy(c.settings, now),
      after: readPolicy(after, now),
    });
    // the monitor recomputes the state (a paused client turns grey) and tells the dashboards
    if (web.deps.monitor) await web.deps.monitor.settingsChanged(c.id);
    else web.broker.publish("client.changed", { clientId: c.id });
  };

  return (
    new Elysia({ name: "web.clients" })
      .get("/", async ({ request, query }) => {
        const auth = await web.guard(request, "viewer");
        if (auth instanceof Response) return auth;
        const q = parseOverviewQuery(query);
        // kutt-style: an htmx request for the list gets the list component, nothing else
        if (request.headers.get("hx-target") === "client-list")
          return web.html(await sharedList(auth, request, q));
        return web.html(<OverviewPage ctx={web.pageContext(auth, request)} view={await overviewOf(q)} />);
      })
      .get("/clients/new", async ({ request }) => {
        const auth = await web.guard(request, "admin");
        if (auth instanceof Response) return auth;
        return web.html(<AddClientPage ctx={web.pageContext(auth, request)} />);
      })
      .post("/clients", async ({ request, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const ctx = web.pageContext(auth, request);
        const name = formText(form, "name").trim();
        try {
          const e = await enrollClient(store, web.deps.keyring, name, web.deps.publicUrl, web.now());
          await web.audit(auth.user.name, request, "client.add", e.name, { client_id: e.id });
          web.broker.publish("client.changed", { clientId: e.id });
          return web.html(<EnrolledPage ctx={ctx} e={e} publicUrl={web.deps.publicUrl} />, 201);
        } catch (err) {
          if (err instanceof ApiError)
            return web.html(<AddClientPage ctx={ctx} error={err.message} name={name} />, err.status);
          throw err;
        }
      })
      .get("/clients/:id", async ({ request, params, query }) => {
        const auth = await web.guard(request, "viewer");
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const d = await loadDetail(web, c);
        if (request.headers.get("hx-target") === "client-live")
          return web.html(<ClientLive d={d} now={web.now()} />);
        const notice = typeof query.notice === "string" ? query.notice : undefined;
        const badges = auth.user.role === "admin" ? await store.badges.list(c.id) : [];
        return web.html(
          <ClientPage
            ctx={web.pageContext(auth, request)}
            d={d}
            now={web.now()}
            notice={notice}
            badges={badges}
          />,
        );
      })
      .post("/clients/:id/badges", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const kind = formText(form, "kind");
        if (!isBadgeKind(kind)) return web.redirect(`/clients/${encodeURIComponent(c.id)}#badges`);
        const { record, token } = await createBadge(store, c, kind, formText(form, "label"), web.now());
        await web.audit(auth.user.name, request, "badge.create", c.name, {
          client_id: c.id,
          badge_id: record.id,
          kind,
        });
        const url = `${web.deps.publicUrl.replace(/\/+$/, "")}${badgePath(c.id, kind)}?token=${token}`;
        return web.html(
          <BadgeCreatedPage
            ctx={web.pageContext(auth, request)}
            clientId={c.id}
            clientName={c.name}
            url={url}
            kind={kind}
          />,
          201,
        );
      })
      .post("/clients/:id/badges/:badge/revoke", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const badge = (await store.badges.list(c.id)).find((b) => b.id === params.badge);
        if (!badge) return web.notFound(auth, request, "badge");
        if (await store.badges.revoke(badge.id, web.now()))
          await web.audit(auth.user.name, request, "badge.revoke", c.name, {
            client_id: c.id,
            badge_id: badge.id,
          });
        return web.redirect(`/clients/${encodeURIComponent(c.id)}?notice=badge-revoked#badges`);
      })
      .post("/clients/:id/settings", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const ctx = web.pageContext(auth, request);
        const parsed = settingsFromForm(form, web.now(), c.settings);
        const htmx = request.headers.get("hx-request") === "true";
        if ("error" in parsed) {
          const panel = <SettingsPanel ctx={ctx} d={await loadDetail(web, c)} error={parsed.error} />;
          return htmx
            ? web.html(panel, 200)
            : web.html(<ClientPage ctx={ctx} d={await loadDetail(web, c)} now={web.now()} />, 400);
        }
        await updateSettings(auth, request, c, parsed.change, "client.settings");
        const fresh = (await store.clients.get(c.id)) as ClientRecord;
        if (htmx) return web.html(<SettingsPanel ctx={ctx} d={await loadDetail(web, fresh)} saved />);
        return web.redirect(`/clients/${encodeURIComponent(c.id)}`);
      })
      .post("/clients/:id/mute", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const seconds = Number(formText(form, "for") || 86400);
        const choice = MUTE_CHOICES.find((m) => m.s === seconds);
        if (seconds !== 0 && !choice)
          return web.html(
            <ClientPage ctx={web.pageContext(auth, request)} d={await loadDetail(web, c)} now={web.now()} />,
            400,
          );
        const until = seconds === 0 ? null : web.now() + seconds * 1000;
        await updateSettings(
          auth,
          request,
          c,
          { muted_until: until },
          until ? "client.mute" : "client.unmute",
        );
        return web.redirect(`/clients/${encodeURIComponent(c.id)}?notice=${until ? "muted" : "unmuted"}`);
      })
      .post("/clients/:id/pause", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const on = formText(form, "on") !== "0";
        await updateSettings(auth, request, c, { paused: on }, on ? "client.pause" : "client.resume");
        return web.redirect(`/clients/${encodeURIComponent(c.id)}?notice=${on ? "paused" : "resumed"}`);
      })
      .post("/clients/:id/lock", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const learned = web.deps.monitor ? await web.deps.monitor.learnedNetworks(c.id) : null;
        const lock = learned ? lockOf(learned) : null;
        const checked = lock ? validateSettingsChange(lock) : null;
        if (!checked?.ok)
          return web.redirect(
            `/clients/${encodeURIComponent(c.id)}?notice=${lock ? "lock-too-large" : "nothing-learned"}`,
          );
        await updateSettings(auth, request, c, checked.change, "client.lock");
        return web.redirect(`/clients/${encodeURIComponent(c.id)}?notice=locked`);
      })
      .post("/clients/:id/unlock", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        await updateSettings(auth, request, c, { exit_asns: null, exit_countries: null }, "client.unlock");
        return web.redirect(`/clients/${encodeURIComponent(c.id)}?notice=unlocked`);
      })
      .post("/clients/:id/rotate", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        const e = await rotateClientSecret(store, web.deps.keyring, c, web.deps.publicUrl, web.now(), grace);
        await web.audit(auth.user.name, request, "client.rotate", c.name, {
          client_id: c.id,
          old_secret_valid_ms: grace,
        });
        web.broker.publish("client.changed", { clientId: c.id });
        return web.html(
          <EnrolledPage ctx={web.pageContext(auth, request)} e={e} publicUrl={web.deps.publicUrl} rotated />,
        );
      })
      .get("/clients/:id/delete", async ({ request, params }) => {
        const auth = await web.guard(request, "admin");
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        return web.html(
          <DeleteClientPage ctx={web.pageContext(auth, request)} d={await loadDetail(web, c)} />,
        );
      })
      .post("/clients/:id/delete", async ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = await web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = await client(auth, request, params.id);
        if (c instanceof Response) return c;
        if (formText(form, "confirm").trim() !== c.name)
          return web.html(
            <DeleteClientPage
              ctx={web.pageContext(auth, request)}
              d={await loadDetail(web, c)}
              error="The name does not match; nothing was deleted."
            />,
            400,
          );
        await store.clients.remove(c.id);
        await web.audit(auth.user.name, request, "client.delete", c.name, { client_id: c.id });
        web.broker.publish("client.changed", { clientId: c.id });
        return web.redirect("/");
      })
      // lets `/clients/<name>` links from alerts work as well as ids; the router has decoded
      // the name already (decoding again turned /c/%25 into a 500)
      .get("/c/:name", async ({ request, params }) => {
        const auth = await web.guard(request, "viewer");
        if (auth instanceof Response) return auth;
        const c = await findClient(store, params.name);
        return c
          ? web.redirect(`/clients/${encodeURIComponent(c.id)}`)
          : web.notFound(auth, request, "client");
      })
  );
}
