/** The client page's exit networks (last 30 days) and its Lock / Unlock buttons. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { enrollClient } from "../src/server/enrollment.ts";
import { buildReport } from "../src/server/monitor/testing.ts";
import { signedPost } from "./helpers/report.ts";
import { buildWebApp, postForm, type Session, signIn, type WebApp } from "./web-helpers.ts";

const clock = { t: Date.now() };
let w: WebApp;
let admin: Session;
let viewer: Session;
let id = "";
let freshId = "";

beforeAll(async () => {
  w = await buildWebApp({ now: () => clock.t });
  admin = await signIn(w.handle, "admin");
  viewer = await signIn(w.handle, "viewer");
  const cred = await enrollClient(w.store, w.keyring, "gluetun", "http://x", clock.t);
  id = cred.id;
  freshId = (await enrollClient(w.store, w.keyring, "fresh", "http://x", clock.t)).id;
  // 198.51.100.7: AS64501 VPN Co São Paulo, BR; signed on the server's clock, an hour apart
  for (const _ of [1, 2]) {
    const body = JSON.stringify(buildReport({}, clock.t));
    const res = await w.app.handle(
      signedPost("http://localhost", cred, body, { nowS: Math.floor(clock.t / 1000) }),
    );
    expect(res.status).toBe(202);
    clock.t += 3_600_000;
  }
});
afterAll(() => w.close());

const page = async (s: Session, client = id) =>
  (await w.handle(`/clients/${client}`, { headers: { cookie: s.cookie } })).text();
const panel = (html: string) => html.slice(html.indexOf('id="networks"'), html.indexOf('id="settings"'));

test("the page shows what the client used and offers Lock to an admin only", async () => {
  const html = panel(await page(admin));
  expect(html).toContain("Exit networks, last 30 days");
  expect(html).toContain("AS64501 VPN Co São Paulo");
  expect(html).toContain("100 %");
  expect(html).toContain("Brazil");
  expect(html).toContain("Not locked.");
  expect(html).toContain(`action="/clients/${id}/lock"`);
  const seen = panel(await page(viewer));
  expect(seen).toContain("AS64501 VPN Co São Paulo");
  expect(seen).not.toContain("/lock");
});

test("Lock sets the learned networks and countries as the expectation; Unlock clears them", async () => {
  const res = await postForm(w.handle, `/clients/${id}/lock`, admin, {});
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe(`/clients/${id}?notice=locked`);
  expect((await w.store.clients.get(id))?.settings).toMatchObject({
    exit_asns: [64501],
    exit_countries: ["BR"],
  });
  const html = await page(admin);
  expect(panel(html)).toContain("Locked to networks AS64501; countries BR.");
  expect(panel(html)).toContain(`action="/clients/${id}/unlock"`);
  const audit = await w.store.auth.listAudit({ limit: 5 });
  expect(audit.some((e) => e.action === "client.lock" && e.target === "gluetun")).toBe(true);

  expect((await postForm(w.handle, `/clients/${id}/unlock`, admin, {})).status).toBe(303);
  expect((await w.store.clients.get(id))?.settings).toMatchObject({ exit_asns: null, exit_countries: null });
});

test("Lock with nothing learned changes nothing and says why", async () => {
  const res = await postForm(w.handle, `/clients/${freshId}/lock`, admin, {});
  expect(res.headers.get("location")).toBe(`/clients/${freshId}?notice=nothing-learned`);
  expect((await w.store.clients.get(freshId))?.settings.exit_asns).toBeNull();
  const html = await (
    await w.handle(`/clients/${freshId}?notice=nothing-learned`, { headers: { cookie: admin.cookie } })
  ).text();
  expect(html).toContain("Nothing to lock to yet");
  expect(panel(html)).toContain("Nothing learned yet.");
});
