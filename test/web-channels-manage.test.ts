/**
 * Alert channels added on the dashboard's Alerts page, against a real server, a fake ntfy that
 * checks its access token and a fake Telegram Bot API (both real local servers): bad URLs are
 * refused and store nothing, a channel's secret is sealed and never shown, it takes effect
 * without a restart (routed by client tags set on the dashboard), edits keep masked secrets,
 * a refusing channel is fixed by an edit, options' channels are read-only, and a restart and a
 * deletion do what they say. Every change is audited, admin only, CSRF-checked.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { createUser } from "../src/server/auth/users.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import type { RunningServer } from "../src/server/main.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import type { Store } from "../src/server/store/index.ts";
import { fakeNtfy } from "./fakes/notify-services.ts";
import { FAKE_BOT_INFO, FakeTelegram } from "./fakes/telegram.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";
import { PASSWORD, postForm, type Session, signIn } from "./web-helpers.ts";

const TOKEN = "tk_dashboard_Secret_4f9a";
const CHAT = 111;
const dir = tempDir("sentinel-web-manage-");
const ntfy = fakeNtfy({ auth: `Bearer ${TOKEN}` });
const telegram = FakeTelegram.start();
let server: RunningServer;
let admin: Session;
let viewer: Session;
const clients: Record<string, Credentials> = {};

const handle = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, { redirect: "manual", ...init });
const start = () =>
  startTestServer({
    dataDir: dir.path,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
    telegramToken: `${FAKE_BOT_INFO.id}:TEST-token-for-the-fake-bot-api`,
    telegramChat: [String(CHAT)],
    telegramApiRoot: telegram.url,
    telegramMode: "off",
  });
const signInBoth = async () => {
  admin = await signIn(handle, "admin");
  viewer = await signIn(handle, "viewer");
};

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  await createUser(store, { name: "admin", role: "admin", password: PASSWORD }, Date.now());
  await createUser(store, { name: "viewer", role: "viewer", password: PASSWORD }, Date.now());
  for (const name of ["laptop", "nas"]) {
    const e = await enrollClient(store, keyring, name, "http://x", Date.now());
    clients[name] = { id: e.id, secret: e.secret };
  }
  await store.close();
  server = await start();
  await signInBoth();
}, 30_000);
afterAll(async () => {
  await server.stop();
  await ntfy.stop();
  await telegram.stop();
  dir.remove();
});

const NAME = () => `ntfy://${ntfy.host}/alerts?token=***`;
const path = (name: string, action: string) => `/channels/${encodeURIComponent(name)}/${action}`;

/** The text a reader sees in the elements matching `selector`, one string per element. */
async function texts(html: string, selector: string): Promise<string[]> {
  const found: string[] = [];
  await new HTMLRewriter()
    .on(selector, {
      element() {
        found.push("");
      },
      text(t) {
        found[found.length - 1] += t.text;
      },
    })
    .transform(new Response(html))
    .text();
  return found.map((t) => decode(t.replace(/\s+/g, " ").trim()));
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#x27": "'" };
const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ENTITIES[e] ?? "");

async function page(p: string, s: Session = admin): Promise<string> {
  const res = await handle(p, { headers: { cookie: s.cookie } });
  expect(res.status).toBe(200);
  return res.text();
}

/** The cards of the Alerts page: name → the text of the card. */
async function cards(html?: string): Promise<Record<string, string>> {
  const source = html ?? (await page("/channels"));
  const names = await texts(source, "article.channel h2");
  const bodies = await texts(source, "article.channel");
  return Object.fromEntries(names.map((n, i) => [n, bodies[i] ?? ""]));
}

/** Reads the server's database from a second connection, as another process would. */
async function stored<T>(read: (store: Store) => Promise<T>): Promise<T> {
  const store = await openServerStore(dir.path);
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

const audit = async (action: string) =>
  (await stored((s) => s.auth.listAudit({ limit: 200 }))).filter((e) => e.action === action);

/** A report whose exit is the home address (a bypass), or a clean one. */
const report = (name: string, bypass: boolean) =>
  fetch(
    signedPost(
      server.url,
      clients[name] as Credentials,
      JSON.stringify(
        sampleReport(
          bypass
            ? {
                ipv4: {
                  ip: "203.0.113.7",
                  consistent: true,
                  answers: [{ provider: "p", ip: "203.0.113.7", latency_ms: 1, error: null }],
                },
              }
            : {},
        ),
      ),
    ),
  ).then((r) => r.status);

const ntfyTitles = () =>
  ntfy
    .delivered()
    .map((r) => String((r.body as { title?: string }).title))
    .filter((t) => !t.includes("Test message"));

test("adding: bad URLs are refused with the reason and store nothing; a good one is listed masked, sealed, audited", async () => {
  for (const [url, status, reason] of [
    ["", 400, "give the channel's URL"],
    [`ntfy://${ntfy.host}`, 400, "needs a topic"],
    ["foo://x/y", 400, 'unknown scheme "foo://"'],
    [`ntfy://${ntfy.host}/alerts?min=purple`, 400, "?min=purple must be red, yellow or info"],
    [`gotifys://push.example.org/AppTok?only=nothing.matches`, 400, "matches no event kind"],
  ] as const) {
    const res = await postForm(handle, "/channels", admin, { url });
    expect(res.status, url).toBe(status);
    const [error] = await texts(await res.text(), ".notice-error");
    expect(error, url).toContain(reason);
  }
  // no CSRF token, another site, a viewer: refused before anything happens
  expect((await postForm(handle, "/channels", admin, { url: `ntfy://${ntfy.host}/x` }, false)).status).toBe(
    403,
  );
  expect((await postForm(handle, "/channels", viewer, { url: `ntfy://${ntfy.host}/x` })).status).toBe(403);
  expect(await texts(await page("/channels", viewer), "#add-channel-title")).toEqual([]);
  expect(Object.keys(await cards())).toEqual(["telegram"]);

  const url = `ntfy://${ntfy.host}/alerts?token=${TOKEN}&tags=home`;
  const res = await postForm(handle, "/channels", admin, { url });
  expect(res.status).toBe(201);
  const html = await res.text();
  expect(await texts(html, ".notice-ok")).toEqual([`Added ${NAME()}.`]);
  expect(html).not.toContain(TOKEN);
  const card = (await cards(html))[NAME()] ?? "";
  expect(card).toContain("here (editable)");
  expect(card).toContain(`ntfy://${ntfy.host}/alerts?token=***&tags=home`);
  expect(card).toContain("Not tried yet");
  expect((await cards(html)).telegram).toContain("by the server's options (read-only)");

  // sealed in the database: the token is in no file of the data dir
  for (const f of ["sentinel.db", "sentinel.db-wal"]) {
    const bytes = (() => {
      try {
        return readFileSync(join(dir.path, f), "latin1");
      } catch {
        return "";
      }
    })();
    expect(bytes.includes(TOKEN), f).toBe(false);
  }
  const [added] = await audit("channel.add");
  expect(added).toMatchObject({
    actor: "admin",
    target: NAME(),
    detail: { url: `ntfy://${ntfy.host}/alerts?token=***&tags=home` },
  });
  expect(JSON.stringify(added)).not.toContain(TOKEN);

  // the same place twice would send everything twice
  const again = await postForm(handle, "/channels", admin, { url: `ntfy://${ntfy.host}/alerts?token=other` });
  expect(again.status).toBe(409);
  expect(await texts(await again.text(), ".notice-error")).toEqual([`${NAME()} is configured already`]);
  // and a chat the bot already sends to
  const chat = await postForm(handle, "/channels", admin, {
    url: `tgram://${FAKE_BOT_INFO.id}:TEST-token-for-the-fake-bot-api/${CHAT}`,
  });
  expect(chat.status).toBe(409);
}, 20_000);

test("in effect without a restart, routed by the tags set on the client's page", async () => {
  const { laptop, nas } = clients as Record<"laptop" | "nas", Credentials>;
  const form = await postForm(handle, `/clients/${laptop.id}/settings`, admin, {
    tags: "Home, home , family",
  });
  expect(form.status).toBe(303);
  expect((await stored((s) => s.clients.get(laptop.id)))?.settings.tags).toEqual(["home", "family"]);

  for (const name of ["laptop", "nas"]) expect(await report(name, false)).toBe(202);
  for (const name of ["laptop", "nas"]) expect(await report(name, true)).toBe(202);
  await ntfy.waitFor(() => ntfyTitles().some((t) => t.includes("bypasses")), 5_000);
  // ?tags=home: laptop's alerts, not the nas's, which went to Telegram only
  const lanes = async (id: string) =>
    (await stored((s) => s.outbox.list({ clientId: id, limit: 50 })))
      .filter((r) => r.kind === "bypass.started")
      .map((r) => r.channel);
  expect(await lanes(nas.id)).toEqual(["telegram"]);
  expect((await lanes(laptop.id)).sort()).toEqual([NAME(), "telegram"].sort());
  await Bun.sleep(200);
  expect(ntfyTitles()).toEqual([
    "ℹ️ laptop reported for the first time",
    "🔴 laptop traffic bypasses the VPN",
    "ℹ️ laptop exit changed",
  ]);
  // every request carried the token, which lives sealed in the database
  expect(ntfy.requests.every((r) => r.headers.get("authorization") === `Bearer ${TOKEN}`)).toBe(true);
}, 20_000);

test("send test message, then the card says Working", async () => {
  const res = await postForm(handle, path(NAME(), "test"), admin, {});
  expect(await texts(await res.text(), ".notice-ok")).toEqual([`Test message sent through ${NAME()}.`]);
  expect(ntfy.delivered().at(-1)?.body).toMatchObject({ title: expect.stringContaining("Test message") });
  expect((await cards())[NAME()]).toContain("Working");
});

test("editing: *** keeps the stored secret on the same service, another host needs it typed", async () => {
  const form = await page(path(NAME(), "edit"));
  expect(form).not.toContain(TOKEN);
  expect(/name="url"[^>]*value="([^"]*)"/.exec(form)?.[1]?.replaceAll("&amp;", "&")).toBe(
    `ntfy://${ntfy.host}/alerts?token=***&tags=home`,
  );
  const elsewhere = await postForm(handle, path(NAME(), "edit"), admin, {
    url: "ntfy://198.51.100.99/alerts?token=***",
  });
  expect(elsewhere.status).toBe(400);
  expect((await texts(await elsewhere.text(), ".notice-error"))[0]).toContain("the address changed");

  const saved = await postForm(handle, path(NAME(), "edit"), admin, {
    url: `ntfy://${ntfy.host}/alerts?token=***&min=red`,
  });
  expect(saved.status).toBe(200);
  expect(await texts(await saved.text(), ".notice-ok")).toEqual([`Saved ${NAME()}.`]);
  // the stored token went along: a test message through the edited channel is let in
  const before = ntfy.delivered().length;
  await postForm(handle, path(NAME(), "test"), admin, {});
  expect(ntfy.delivered().length).toBe(before + 1);
  expect(ntfy.requests.at(-1)?.headers.get("authorization")).toBe(`Bearer ${TOKEN}`);
  const [edit] = await audit("channel.edit");
  expect(edit?.detail).toMatchObject({
    before: `ntfy://${ntfy.host}/alerts?token=***&tags=home`,
    after: `ntfy://${ntfy.host}/alerts?token=***&min=red`,
  });
  expect(JSON.stringify(edit)).not.toContain(TOKEN);
}, 20_000);

test("a channel the service refuses stops with the answer; an edit fixes it and what waited goes, no restart", async () => {
  const wrong = await postForm(handle, path(NAME(), "edit"), admin, {
    url: `ntfy://${ntfy.host}/alerts?token=tk_revoked&min=red`,
  });
  expect(wrong.status).toBe(200);
  const refusedBefore = ntfy.requests.filter((r) => r.status === 403).length;
  expect(await report("laptop", false)).toBe(202); // laptop's bypass ends: the resolved message of a red alert
  await ntfy.waitFor(() => ntfy.requests.filter((r) => r.status === 403).length > refusedBefore, 5_000);
  await Bun.sleep(100);
  let card = (await cards())[NAME()] ?? "";
  expect(card).toContain("Failing");
  expect(card).toContain("stopped, ntfy 403");
  expect(card).toContain("(edit the channel to fix it)");
  expect(card).toMatch(/Waiting ?1 \(oldest/);

  const fixed = await postForm(handle, path(NAME(), "edit"), admin, {
    url: `ntfy://${ntfy.host}/alerts?token=${TOKEN}&min=red`,
  });
  expect(fixed.status).toBe(200);
  await ntfy.waitFor(() => ntfyTitles().at(-1) === "✅ laptop bypass resolved", 5_000);
  await Bun.sleep(100);
  card = (await cards())[NAME()] ?? "";
  expect(card).toContain("Working");
  expect(card).toMatch(/Waiting ?0/);
}, 20_000);

test("channels of the options are read-only here", async () => {
  const html = await page("/channels");
  expect(html).not.toContain(`href="${path("telegram", "edit")}"`);
  for (const action of ["edit", "delete"]) {
    const res = await postForm(handle, path("telegram", action), admin, { url: "tgram://1:x/2" });
    expect(res.status, action).toBe(400);
    expect((await texts(await res.text(), ".notice-error"))[0]).toContain("comes from the server's options");
  }
  expect((await postForm(handle, path(NAME(), "delete"), viewer, {})).status).toBe(403);
  expect((await postForm(handle, path("ntfy://nowhere/x", "delete"), admin, {})).status).toBe(404);
});

test("a restart keeps the channel (from the database), a deletion removes it at once", async () => {
  await server.stop();
  server = await start();
  await signInBoth();
  expect((await cards())[NAME()]).toContain("Working");
  const before = ntfyTitles().length;
  await server.notifications.notifier.uplinkChanged({ down: true, at: Date.now() });
  await ntfy.waitFor(() => ntfyTitles().length > before, 5_000);
  expect(ntfyTitles().at(-1)).toBe("🔴 Server uplink down");

  const res = await postForm(handle, path(NAME(), "delete"), admin, {});
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(await texts(html, ".notice-ok")).toEqual([`Deleted ${NAME()}.`]);
  expect(Object.keys(await cards(html))).toEqual(["telegram"]);
  expect((await audit("channel.delete"))[0]).toMatchObject({ actor: "admin", target: NAME() });
  const count = ntfy.requests.length;
  await server.notifications.notifier.uplinkChanged({ down: false, at: Date.now() });
  await telegram.waitFor(
    () => telegram.delivered(CHAT).some((c) => String(c.params.text).includes("Server uplink back")),
    5_000,
  );
  await Bun.sleep(200);
  expect(ntfy.requests.length).toBe(count);
}, 30_000);
