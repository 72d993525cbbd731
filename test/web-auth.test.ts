/**
 * Dashboard access control: every route × anonymous / viewer / admin, CSRF, origin, login
 * rate limits and lockout, session cookies, security headers. In-process via createApp.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { CONTENT_SECURITY_POLICY } from "../src/server/auth/headers.ts";
import { createUser } from "../src/server/auth/users.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { buildWebApp, PASSWORD, postForm, type Session, signIn, type WebApp } from "./web-helpers.ts";

let w: WebApp;
let viewer: Session;
let admin: Session;
const ids = { client: "", doomed: "", tmpUser: "", token: "" };

beforeAll(async () => {
  w = await buildWebApp();
  ids.client = (await enrollClient(w.store, w.keyring, "router", "http://x", Date.now())).id;
  ids.doomed = (await enrollClient(w.store, w.keyring, "doomed", "http://x", Date.now())).id;
  ids.tmpUser = (
    await createUser(w.store, { name: "tmp", role: "viewer", password: PASSWORD }, Date.now())
  ).id;
  ids.token = (await createApiToken(w.store, "old-token", "viewer", Date.now())).record.id;
  viewer = await signIn(w.handle, "viewer");
  admin = await signIn(w.handle, "admin");
});
afterAll(() => w.close());

type Who = "anon" | "viewer" | "admin";
interface Row {
  method: "GET" | "POST";
  /** :client, :doomed, :user and :token stand for ids made in beforeAll */
  path: string;
  fields?: () => Record<string, string>;
  expect: Record<Who, number>;
}
const page = (path: string, adminOnly = false): Row => ({
  method: "GET",
  path,
  expect: { anon: 303, viewer: adminOnly ? 403 : 200, admin: 200 },
});
const action = (path: string, ok: number, fields: () => Record<string, string> = () => ({})): Row => ({
  method: "POST",
  path,
  fields,
  expect: { anon: 303, viewer: 403, admin: ok },
});
const always = (path: string, status: number): Row => ({
  method: "GET",
  path,
  expect: { anon: status, viewer: status, admin: status },
});

// The expected status of every route for each kind of caller. Order matters only in that
// admin's destructive actions run last for each row.
const MATRIX: Row[] = [
  always("/healthz", 200),
  always("/readyz", 200),
  always("/api/v1/whoami", 200),
  always("/assets/app.css", 200),
  always("/assets/htmx.min.js", 200),
  always("/setup", 303),
  always("/api/v1/clients", 401), // the API takes bearer tokens, never the dashboard cookie
  always("/no-such-page", 404),
  { method: "GET", path: "/login", expect: { anon: 200, viewer: 303, admin: 303 } },
  page("/"),
  page("/?status=red&q=router&sort=name"),
  page("/events"),
  page("/events?severity=red&since=24h"),
  page("/events?q=leak"),
  page("/?check=dns:leak&flag=muted"),
  page("/analytics"),
  page("/analytics?period=90d"),
  page("/channels"),
  page("/account"),
  page("/clients/:client"),
  { method: "GET", path: "/clients/c_missing", expect: { anon: 303, viewer: 404, admin: 404 } },
  page("/clients/new", true),
  page("/clients/:client/delete", true),
  page("/users", true),
  page("/tokens", true),
  page("/audit", true),
  action("/clients", 201, () => ({ name: `new-${Math.random().toString(36).slice(2, 8)}` })),
  action("/clients/:client/settings", 303, () => ({ interval_s: "60", expected_country: "br" })),
  action("/clients/:client/mute", 303, () => ({ for: "3600" })),
  action("/clients/:client/pause", 303, () => ({ on: "0" })),
  action("/clients/:client/lock", 303),
  action("/clients/:client/unlock", 303),
  action("/clients/:client/rotate", 200),
  action("/clients/:client/badges", 201, () => ({ kind: "status", label: "VPN" })),
  action("/clients/:doomed/delete", 303, () => ({ confirm: "doomed" })),
  action("/channels/telegram/test", 200),
  action("/users", 201, () => ({ name: "carol", role: "viewer", password: PASSWORD })),
  action("/users/:user/delete", 200),
  action("/tokens", 201, () => ({ name: "ha", role: "viewer" })),
  action("/tokens/:token/revoke", 200),
  {
    method: "POST",
    path: "/account/password",
    fields: () => ({ current: "wrong", password: "another long one" }),
    expect: { anon: 303, viewer: 400, admin: 400 },
  },
];

const resolve = (path: string) =>
  path
    .replace(":client", ids.client)
    .replace(":doomed", ids.doomed)
    .replace(":user", ids.tmpUser)
    .replace(":token", ids.token);

async function call(row: Row, who: Who): Promise<Response> {
  const s = who === "anon" ? null : who === "viewer" ? viewer : admin;
  if (row.method === "GET")
    return w.handle(resolve(row.path), { headers: s ? { cookie: s.cookie } : {}, redirect: "manual" });
  return postForm(w.handle, resolve(row.path), s, row.fields?.() ?? {});
}

describe("auth matrix", () => {
  for (const row of MATRIX) {
    test(`${row.method} ${row.path}`, async () => {
      for (const who of ["anon", "viewer", "admin"] as const) {
        const res = await call(row, who);
        expect({ who, status: res.status }).toEqual({ who, status: row.expect[who] });
        if (res.status === 303 && who === "anon") expect(res.headers.get("location")).toStartWith("/login");
      }
    });
  }

  test("GET /events/stream: 401 anonymous, an event stream for a session", async () => {
    const anon = await w.handle("/events/stream", { headers: { accept: "text/event-stream" } });
    expect(anon.status).toBe(401);
    const res = await w.handle("/events/stream?view=overview", {
      headers: { cookie: viewer.cookie, accept: "text/event-stream" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    await res.body?.cancel();
  });

  test("the viewer never sees secrets or enrollment tokens", async () => {
    const detail = await (
      await w.handle(resolve("/clients/:client"), { headers: { cookie: viewer.cookie } })
    ).text();
    expect(detail).not.toContain("sentinel client --server");
    expect(detail).not.toContain("/rotate");
    expect(detail).not.toContain('name="interval_s"');
    const overview = await (await w.handle("/", { headers: { cookie: viewer.cookie } })).text();
    expect(overview).not.toContain("/clients/new");
    expect(overview).not.toContain('href="/users"');
  });

  test("every admin action is in the audit log with who, what and from where", async () => {
    const entries = await w.store.auth.listAudit({ limit: 100 });
    const actions = new Set(entries.map((e) => e.action));
    for (const a of [
      "client.add",
      "client.settings",
      "client.mute",
      "client.resume",
      "client.rotate",
      "client.delete",
      "channel.test",
      "user.add",
      "user.remove",
      "token.add",
      "token.revoke",
      "login",
    ])
      expect(actions).toContain(a);
    const mute = entries.find((e) => e.action === "client.mute");
    expect(mute).toMatchObject({ actor: "admin", target: "router", sourceIp: "192.0.2.99" });
    expect(mute?.at).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe("CSRF and origin", () => {
  const posts = () => MATRIX.filter((r) => r.method === "POST");

  test("every state-changing route refuses an admin without the CSRF token (403), and changes nothing", async () => {
    const before = JSON.stringify((await w.store.clients.get(ids.client))?.settings);
    const audits = (await w.store.auth.listAudit({ limit: 1000 })).length;
    for (const row of posts()) {
      const res = await postForm(w.handle, resolve(row.path), admin, row.fields?.() ?? {}, false);
      expect({ path: row.path, status: res.status }).toEqual({ path: row.path, status: 403 });
    }
    expect(JSON.stringify((await w.store.clients.get(ids.client))?.settings)).toBe(before);
    expect((await w.store.auth.listAudit({ limit: 1000 })).length).toBe(audits);
  });

  test("a wrong token, another session's token, or a foreign Origin is refused", async () => {
    const path = resolve("/clients/:client/mute");
    expect((await postForm(w.handle, path, { ...admin, csrf: "forged" }, { for: "3600" })).status).toBe(403);
    expect((await postForm(w.handle, path, { ...admin, csrf: viewer.csrf }, { for: "3600" })).status).toBe(
      403,
    );
    const foreign = await w.handle(path, {
      method: "POST",
      headers: {
        cookie: admin.cookie,
        origin: "https://evil.example",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ _csrf: admin.csrf, for: "3600" }),
    });
    expect(foreign.status).toBe(403);
  });

  test("the token also works as the X-CSRF-Token header (htmx's hx-headers)", async () => {
    const res = await w.handle(resolve("/clients/:client/settings"), {
      method: "POST",
      headers: {
        cookie: admin.cookie,
        "x-csrf-token": admin.csrf,
        "hx-request": "true",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ interval_s: "45" }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Settings saved.");
    expect((await w.store.clients.get(ids.client))?.settings.interval_s).toBe(45);
  });

  test("the login form refuses a post without its double-submit cookie", async () => {
    const res = await postForm(w.handle, "/login", null, { name: "admin", password: PASSWORD, _csrf: "x" });
    expect(res.status).toBe(403);
    expect(res.headers.get("set-cookie") ?? "").not.toContain("sentinel_session");
  });
});

describe("sign-in, sessions and cookies", () => {
  test("the session cookie is HttpOnly and SameSite, only its hash is stored", async () => {
    const form = await w.handle("/login");
    const loginCookie = (form.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
    const res = await w.handle("/login", {
      method: "POST",
      headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: token, name: "viewer", password: PASSWORD, next: "/events" }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/events");
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^sentinel_session=[\w-]{40,};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).not.toContain("Secure"); // plain-HTTP public URL
    const value = cookie.split(";")[0]?.split("=")[1] ?? "";
    expect(await w.store.auth.getSession(value)).toBeNull();
  });

  test("next= never leaves the site", async () => {
    const form = await w.handle("/login?next=//evil.example/x");
    expect(await form.text()).toContain('name="next" value="/"');
  });

  test("wrong passwords: 401 with one message for both halves, then a lockout (429) even with the right one", async () => {
    await createUser(w.store, { name: "dave", role: "viewer", password: PASSWORD }, Date.now());
    const attempt = async (name: string, password: string) => {
      const form = await w.handle("/login");
      const cookie = (form.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
      return w.handle("/login", {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: token, name, password }),
      });
    };
    const unknown = await attempt("nobody", "whatever-password");
    expect(unknown.status).toBe(401);
    const wrong = await attempt("dave", "not the password");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Wrong user name or password.");
    await attempt("dave", "not the password");
    expect((await attempt("dave", "not the password")).status).toBe(429); // lockAfter = 3
    const locked = await attempt("dave", PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).not.toBeNull();
    expect(
      (await w.store.auth.listAudit({ limit: 50 })).some(
        (e) => e.action === "login.failed" && e.actor === "dave",
      ),
    ).toBe(true);
  });

  test("sign-out ends the session: the old cookie is useless", async () => {
    const s = await signIn(w.handle, "viewer");
    const out = await postForm(w.handle, "/logout", s, {});
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await w.handle("/", { headers: { cookie: s.cookie }, redirect: "manual" })).status).toBe(303);
  });

  test("removing a user ends their sessions", async () => {
    await createUser(w.store, { name: "erin", role: "viewer", password: PASSWORD }, Date.now());
    const s = await signIn(w.handle, "erin");
    const erin = await w.store.auth.getUserByName("erin");
    expect((await postForm(w.handle, `/users/${erin?.id}/delete`, admin, {})).status).toBe(200);
    expect((await w.handle("/", { headers: { cookie: s.cookie }, redirect: "manual" })).status).toBe(303);
  });

  test("the last admin cannot be removed", async () => {
    const me = await w.store.auth.getUserByName("admin");
    const res = await postForm(w.handle, `/users/${me?.id}/delete`, admin, {});
    expect(res.status).toBe(400);
    expect(await w.store.auth.getUserByName("admin")).not.toBeNull();
  });
});

describe("security headers", () => {
  test("on pages, assets, API, health and errors: CSP without inline script, no framing, nosniff, referrer policy", async () => {
    const responses = [
      await w.handle("/login"),
      await w.handle("/", { headers: { cookie: viewer.cookie } }),
      await w.handle("/assets/app.js"),
      await w.handle("/api/v1/whoami"),
      await w.handle("/healthz"),
      await w.handle("/no-such-page"),
      await w.handle("/api/v1/clients"),
    ];
    for (const res of responses) {
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toBe(CONTENT_SECURITY_POLICY);
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
    }
  });

  test("no page carries an inline script, inline style or event-handler attribute", async () => {
    for (const path of [
      "/",
      resolve("/clients/:client"),
      "/events",
      "/channels",
      "/users",
      "/tokens",
      "/audit",
      "/clients/new",
      "/account",
    ]) {
      const html = await (await w.handle(path, { headers: { cookie: admin.cookie } })).text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/<style/);
      expect(html).not.toMatch(/\sstyle="/);
      expect(html).not.toMatch(/\son[a-z]+="/);
    }
  });
});
