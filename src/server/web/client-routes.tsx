/** @jsxImportSource @kitajs/html */
/** Overview, client detail and everything an admin does to a client. */
import { Elysia } from "elysia";
import { ClientLive, ClientPage, DeleteClientPage, SettingsPanel } from "../../../templates/client.tsx";
import { AddClientPage, EnrolledPage } from "../../../templates/enroll.tsx";
import { ClientList, OverviewPage } from "../../../templates/overview.tsx";
import { enrollClient, findClient, rotateClientSecret } from "../enrollment.ts";
import { ApiError } from "../errors.ts";
import type { ClientRecord } from "../store/index.ts";
import { type Auth, type Form, formText, renderSync, type Web } from "./guard.ts";
import {
  clientDetail,
  MUTE_CHOICES,
  type OverviewQuery,
  overview,
  overviewQueryString,
  parseOverviewQuery,
  readPolicy,
} from "./model.ts";

const DAY_MS = 86_400_000;

/** The detail page's data: recent events and 30 days of change-only history. */
export function loadDetail(web: Web, c: ClientRecord) {
  const now = web.now();
  const from = now - 30 * DAY_MS;
  const events = web.store.events.query({ clientId: c.id, limit: 50 });
  const history = {
    rows: web.store.history.range(c.id, from, now),
    downtimes: web.store.history.serverDowntimes(from, now),
  };
  return clientDetail(c, events, history, now);
}

/** Parses the settings form into policy changes; returns an error message for bad input. */
export function settingsFromForm(
  form: Form,
  now: number,
  current: Record<string, unknown>,
): { policy: Record<string, unknown> } | { error: string } {
  const int = (key: string, min: number, max: number, what: string): number | null | string => {
    const raw = formText(form, key).trim();
    if (raw === "") return null;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
      return `${what} must be a whole number from ${min} to ${max}.`;
    return Number(raw);
  };
  const interval = int("interval_s", 5, 86400, "The interval");
  if (typeof interval === "string") return { error: interval };
  const grace = int("grace_s", 0, 86400, "The grace");
  if (typeof grace === "string") return { error: grace };
  const asn = int("expected_asn", 1, 4294967295, "The ASN");
  if (typeof asn === "string") return { error: asn };
  const country = formText(form, "expected_country").trim().toUpperCase();
  if (country && !/^[A-Z]{2}$/.test(country))
    return { error: "The country must be a two-letter ISO code, like DE or NL." };
  // "keep" leaves a running mute alone, so saving other settings does not shorten or lift it
  const mute = formText(form, "mute_for") || "keep";
  let mutedUntil = current.muted_until ?? null;
  if (mute === "0") mutedUntil = null;
  else if (mute !== "keep") {
    const choice = MUTE_CHOICES.find((c) => String(c.s) === mute);
    if (!choice) return { error: "Choose how long to mute alerts." };
    mutedUntil = now + choice.s * 1000;
  }
  return {
    policy: {
      interval_s: interval,
      grace_s: grace,
      expected_asn: asn,
      expected_country: country || null,
      muted_until: mutedUntil,
      paused: formText(form, "paused") === "1",
    },
  };
}

/** How long a rendered client list is shared by the dashboards that ask for it. */
const LIST_SHARED_MS = 1000;

export function clientRoutes(web: Web) {
  const store = web.store;
  const grace = web.deps.rotateGraceMs ?? DAY_MS;

  // After a burst of flips every open dashboard refetches its list (see stream.tsx); the ones
  // with the same filters and role get the same HTML, so it is built once per second at most.
  // Its rows were already updated in place; a client added, removed or changed clears it.
  const lists = new Map<string, { at: number; html: string }>();
  web.broker.subscribe("client.changed", () => lists.clear());
  const sharedList = (auth: Auth, request: Request, query: OverviewQuery): string => {
    const key = `${auth.user.role}${overviewQueryString(query)}`;
    const now = web.now();
    const hit = lists.get(key);
    if (hit && now - hit.at < LIST_SHARED_MS) return hit.html;
    const html = renderSync(<ClientList view={overviewOf(query)} ctx={web.pageContext(auth, request)} />);
    if (lists.size > 100) lists.clear();
    lists.set(key, { at: now, html });
    return html;
  };
  const overviewOf = (query: OverviewQuery) =>
    overview(store.clients.summaries(), web.now(), query, (ids) => store.clients.getMany(ids));

  /** Loads the client for a route, or the 404 page. */
  const client = (auth: Auth, request: Request, id: string): ClientRecord | Response =>
    store.clients.get(id) ?? web.notFound(auth, request, "client");

  const updatePolicy = (
    auth: Auth,
    request: Request,
    c: ClientRecord,
    change: Record<string, unknown>,
    action: string,
  ) => {
    const now = web.now();
    const before = readPolicy(c.policy, now);
    store.clients.updatePolicy(c.id, { ...c.policy, ...change });
    web.audit(auth.user.name, request, action, c.name, {
      client_id: c.id,
      before,
      after: readPolicy({ ...c.policy, ...change }, now),
    });
    // the monitor recomputes the state (a paused client turns grey) and tells the dashboards
    if (web.deps.monitor) web.deps.monitor.settingsChanged(c.id);
    else web.broker.publish("client.changed", { clientId: c.id });
  };

  return (
    new Elysia({ name: "web.clients" })
      .get("/", ({ request, query }) => {
        const auth = web.guard(request, "viewer");
        if (auth instanceof Response) return auth;
        const q = parseOverviewQuery(query);
        // kutt-style: an htmx request for the list gets the list component, nothing else
        if (request.headers.get("hx-target") === "client-list") return web.html(sharedList(auth, request, q));
        return web.html(<OverviewPage ctx={web.pageContext(auth, request)} view={overviewOf(q)} />);
      })
      .get("/clients/new", ({ request }) => {
        const auth = web.guard(request, "admin");
        if (auth instanceof Response) return auth;
        return web.html(<AddClientPage ctx={web.pageContext(auth, request)} />);
      })
      .post("/clients", ({ request, body }) => {
        const form = (body ?? {}) as Form;
        const auth = web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const ctx = web.pageContext(auth, request);
        const name = formText(form, "name").trim();
        try {
          const e = enrollClient(store, web.deps.keyring, name, web.deps.publicUrl, web.now());
          web.audit(auth.user.name, request, "client.add", e.name, { client_id: e.id });
          web.broker.publish("client.changed", { clientId: e.id });
          return web.html(<EnrolledPage ctx={ctx} e={e} publicUrl={web.deps.publicUrl} />, 201);
        } catch (err) {
          if (err instanceof ApiError)
            return web.html(<AddClientPage ctx={ctx} error={err.message} name={name} />, err.status);
          throw err;
        }
      })
      .get("/clients/:id", ({ request, params, query }) => {
        const auth = web.guard(request, "viewer");
        if (auth instanceof Response) return auth;
        const c = client(auth, request, params.id);
        if (c instanceof Response) return c;
        const d = loadDetail(web, c);
        if (request.headers.get("hx-target") === "client-live")
          return web.html(<ClientLive d={d} now={web.now()} />);
        const notice = typeof query.notice === "string" ? query.notice : undefined;
        return web.html(
          <ClientPage ctx={web.pageContext(auth, request)} d={d} now={web.now()} notice={notice} />,
        );
      })
      .post("/clients/:id/settings", ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = client(auth, request, params.id);
        if (c instanceof Response) return c;
        const ctx = web.pageContext(auth, request);
        const parsed = settingsFromForm(form, web.now(), c.policy);
        const htmx = request.headers.get("hx-request") === "true";
        if ("error" in parsed) {
          const panel = <SettingsPanel ctx={ctx} d={loadDetail(web, c)} error={parsed.error} />;
          return htmx
            ? web.html(panel, 200)
            : web.html(<ClientPage ctx={ctx} d={loadDetail(web, c)} now={web.now()} />, 400);
        }
        updatePolicy(auth, request, c, parsed.policy, "client.settings");
        const fresh = store.clients.get(c.id) as ClientRecord;
        if (htmx) return web.html(<SettingsPanel ctx={ctx} d={loadDetail(web, fresh)} saved />);
        return web.redirect(`/clients/${encodeURIComponent(c.id)}`);
      })
      .post("/clients/:id/mute", ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = client(auth, request, params.id);
        if (c instanceof Response) return c;
        const seconds = Number(formText(form, "for") || 86400);
        const choice = MUTE_CHOICES.find((m) => m.s === seconds);
        if (seconds !== 0 && !choice)
          return web.html(
            <ClientPage ctx={web.pageContext(auth, request)} d={loadDetail(web, c)} now={web.now()} />,
            400,
          );
        const until = seconds === 0 ? null : web.now() + seconds * 1000;
        updatePolicy(auth, request, c, { muted_until: until }, until ? "client.mute" : "client.unmute");
        return web.redirect(`/clients/${encodeURIComponent(c.id)}?notice=${until ? "muted" : "unmuted"}`);
      })
      .post("/clients/:id/pause", ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = client(auth, request, params.id);
        if (c instanceof Response) return c;
        const on = formText(form, "on") !== "0";
        updatePolicy(auth, request, c, { paused: on }, on ? "client.pause" : "client.resume");
        return web.redirect(`/clients/${encodeURIComponent(c.id)}?notice=${on ? "paused" : "resumed"}`);
      })
      .post("/clients/:id/rotate", ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = client(auth, request, params.id);
        if (c instanceof Response) return c;
        const e = rotateClientSecret(store, web.deps.keyring, c, web.deps.publicUrl, web.now(), grace);
        web.audit(auth.user.name, request, "client.rotate", c.name, {
          client_id: c.id,
          old_secret_valid_ms: grace,
        });
        web.broker.publish("client.changed", { clientId: c.id });
        return web.html(
          <EnrolledPage ctx={web.pageContext(auth, request)} e={e} publicUrl={web.deps.publicUrl} rotated />,
        );
      })
      .get("/clients/:id/delete", ({ request, params }) => {
        const auth = web.guard(request, "admin");
        if (auth instanceof Response) return auth;
        const c = client(auth, request, params.id);
        if (c instanceof Response) return c;
        return web.html(<DeleteClientPage ctx={web.pageContext(auth, request)} d={loadDetail(web, c)} />);
      })
      .post("/clients/:id/delete", ({ request, params, body }) => {
        const form = (body ?? {}) as Form;
        const auth = web.guard(request, "admin", form);
        if (auth instanceof Response) return auth;
        const c = client(auth, request, params.id);
        if (c instanceof Response) return c;
        if (formText(form, "confirm").trim() !== c.name)
          return web.html(
            <DeleteClientPage
              ctx={web.pageContext(auth, request)}
              d={loadDetail(web, c)}
              error="The name does not match; nothing was deleted."
            />,
            400,
          );
        store.clients.remove(c.id);
        web.audit(auth.user.name, request, "client.delete", c.name, { client_id: c.id });
        web.broker.publish("client.changed", { clientId: c.id });
        return web.redirect("/");
      })
      // lets `/clients/<name>` links from alerts work as well as ids; the router has decoded
      // the name already (decoding again turned /c/%25 into a 500)
      .get("/c/:name", ({ request, params }) => {
        const auth = web.guard(request, "viewer");
        if (auth instanceof Response) return auth;
        const c = findClient(store, params.name);
        return c
          ? web.redirect(`/clients/${encodeURIComponent(c.id)}`)
          : web.notFound(auth, request, "client");
      })
  );
}
