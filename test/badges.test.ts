/**
 * Badges: an admin makes a link on the client page (shown once); the link shows the client's
 * status or uptime as a flat SVG, embeddable from other sites; it reads nothing else, only its
 * own client and badge, and stops working when revoked. A viewer cannot make one.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { hashToken } from "../src/server/auth/keyring.ts";
import { badgeSvg, textWidth } from "../src/server/badges/svg.ts";
import { BYPASS, H, historyWorld } from "./helpers/history.ts";
import { postForm, type Session, signIn } from "./web-helpers.ts";

const T0 = Date.parse("2026-11-20T06:00:00Z");
let world: Awaited<ReturnType<typeof historyWorld>>;
let admin: Session;
let viewer: Session;

beforeAll(async () => {
  world = await historyWorld(T0);
  await world.add("pi");
  await world.add("other");
  await world.report("pi", T0);
  await world.report("pi", T0 + 9 * H, BYPASS);
  await world.report("other", T0);
  world.clock.t = T0 + 10 * H;
  admin = await signIn(world.w.handle, "admin");
  viewer = await signIn(world.w.handle, "viewer");
});
afterAll(() => world.w.close());

async function makeBadge(client: string, kind: string, label = "") {
  const res = await postForm(world.w.handle, `/clients/${world.id(client)}/badges`, admin, { kind, label });
  const html = await res.text();
  const url = /<pre class="code" id="badge-url">([^<]+)</.exec(html)?.[1] ?? "";
  return { status: res.status, html, url: url.replace(/&amp;/g, "&") };
}
const fetchBadge = async (url: string) => {
  const u = new URL(url);
  const res = await world.w.handle(`${u.pathname}${u.search}`);
  return { res, svg: await res.text() };
};

test("a status badge: the link is shown once, the image says how the client is, from anywhere", async () => {
  const { status, html, url } = await makeBadge("pi", "status");
  expect(status).toBe(201);
  expect(url).toMatch(
    new RegExp(`^http://sentinel.test:8088/badge/${world.id("pi")}/status.svg\\?token=sbt_`),
  );
  expect(html).toContain(`![VPN status](${url})`);
  const { res, svg } = await fetchBadge(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
  expect(res.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
  expect(svg).toContain('aria-label="VPN: exposed"');
  expect(svg).toContain('fill="#e05d44"');
  // the client page lists it without the token; it was used just now
  const page = await (
    await world.w.handle(`/clients/${world.id("pi")}`, { headers: { cookie: admin.cookie } })
  ).text();
  expect(page).not.toContain(new URL(url).searchParams.get("token") as string);
  expect(page).toContain("<td>status</td>");
});

test("an uptime badge over a period, of observed time; a bad period is a 400 badge", async () => {
  const { url } = await makeBadge("pi", "uptime", "pi uptime");
  expect((await fetchBadge(url)).svg).toContain('aria-label="pi uptime: 100%"');
  const protectedShare = await fetchBadge(`${url}&period=24h&metric=protected`);
  expect(protectedShare.svg).toContain('aria-label="pi uptime: 90.0%"'); // red for the last 1 of 10 h seen
  const bad = await fetchBadge(`${url}&period=1y`);
  expect(bad.res.status).toBe(400);
});

test("a badge token reads its badge only: not the API, not another client, not another kind; revoked, nothing", async () => {
  const { url } = await makeBadge("pi", "status");
  const token = new URL(url).searchParams.get("token") as string;
  const api = await world.w.handle("/api/v1/clients", { headers: { authorization: `Bearer ${token}` } });
  expect(api.status).toBe(401);
  for (const wrong of [
    `/badge/${world.id("other")}/status.svg?token=${token}`,
    `/badge/${world.id("pi")}/uptime.svg?token=${token}`,
    `/badge/${world.id("pi")}/status.svg?token=sbt_nope`,
    `/badge/${world.id("pi")}/status.svg`,
  ]) {
    const res = await world.w.handle(wrong);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('aria-label="badge: not found"');
  }
  // the name works as well as the id
  expect((await world.w.handle(`/badge/pi/status.svg?token=${token}`)).status).toBe(200);
  const badge = await world.w.store.badges.findActiveByHash(hashToken(token));
  expect(badge?.lastUsedAt).not.toBeNull();
  const revoke = await postForm(
    world.w.handle,
    `/clients/${world.id("pi")}/badges/${badge?.id}/revoke`,
    admin,
    {},
  );
  expect(revoke.status).toBe(303);
  const after = await fetchBadge(url);
  expect(after.res.status).toBe(404);
  const audit = await world.w.store.auth.listAudit({ limit: 20 });
  expect(audit.map((a) => a.action)).toContain("badge.revoke");
  expect(audit.map((a) => a.action)).toContain("badge.create");
});

test("a viewer can neither see nor make badge links", async () => {
  const res = await postForm(world.w.handle, `/clients/${world.id("pi")}/badges`, viewer, { kind: "status" });
  expect(res.status).toBe(403);
  const page = await (
    await world.w.handle(`/clients/${world.id("pi")}`, { headers: { cookie: viewer.cookie } })
  ).text();
  expect(page).not.toContain('id="badges"');
});

test("the flat badge fits its words and escapes what it shows", () => {
  expect(textWidth("protected")).toBeGreaterThan(textWidth("ok"));
  const svg = badgeSvg('<script>"x"', "a&b", "green");
  expect(svg).toContain("&lt;script&gt;&quot;x&quot;");
  expect(svg).toContain("a&amp;b");
  expect(svg).not.toContain("<script>");
});
