/**
 * The dashboard's view of the past, rendered by the real app over history the real monitor
 * wrote: 24-hour strips and "for 14 min" on every overview row, search by country and check
 * names, filters by check, mute and pause, the red count in the title; incidents on the events
 * page; the client's week, incidents and exit history with the country of the time; analytics.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { BYPASS, DNS_LEAK, H, historyWorld } from "./helpers/history.ts";
import { postForm, type Session, signIn } from "./web-helpers.ts";

const T0 = Date.parse("2026-11-20T06:00:00Z");
const SE_EXIT = "198.51.100.140"; // Second VPN AB, Sweden (test geo)
let world: Awaited<ReturnType<typeof historyWorld>>;
let admin: Session;
let viewer: Session;

beforeAll(async () => {
  world = await historyWorld(T0);
  for (const name of ["pi", "sweden", "paused-one", "muted-one"]) await world.add(name);
  await world.report("pi", T0);
  await world.report("pi", T0 + H, { ...BYPASS, ...DNS_LEAK }); // one report, two verdicts
  await world.report("pi", T0 + 2 * H);
  await world.report("pi", T0 + 3 * H, DNS_LEAK); // red again, still now
  await world.report("sweden", T0 + H, { v4: SE_EXIT, v6: "2001:db8:2::7" });
  await world.report("sweden", T0 + 2 * H, { v6: "2001:db8:2::7" }); // the exit moves to Brazil
  await world.report("paused-one", T0 + H);
  await world.report("muted-one", T0 + H);
  world.clock.t = T0 + 3 * H + 14 * 60_000;
  admin = await signIn(world.w.handle, "admin");
  viewer = await signIn(world.w.handle, "viewer");
  const settings = (name: string, fields: Record<string, string>) =>
    postForm(world.w.handle, `/clients/${world.id(name)}/settings`, admin, fields);
  await settings("paused-one", { paused: "1", mute_for: "keep" });
  await settings("muted-one", { mute_for: "3600" });
}, 30_000);
afterAll(() => world.w.close());

const page = async (path: string, s: Session = admin) => {
  const res = await world.w.handle(path, { headers: { cookie: s.cookie } });
  return { status: res.status, html: await res.text() };
};
const rowOf = (html: string, name: string) => {
  const id = world.id(name);
  const start = html.indexOf(`id="row-${id}"`);
  return html.slice(start, html.indexOf("</tr>", start));
};

test("every overview row: a 24-hour strip of true segments, how long the status has held; the title counts red", async () => {
  const { html } = await page("/");
  expect(html).toContain("<title>(1 exposed) Overview · VPN Sentinel</title>");
  expect(html).toContain('data-red="1"');
  const pi = rowOf(html, "pi");
  expect(pi).toContain(`id="strip-${world.id("pi")}"`);
  expect(pi).toContain(`id="link-${world.id("pi")}"`);
  expect(pi).toContain('data-sig="red|dns:leak"');
  expect(pi).toContain(">for 14 min<");
  // the strip: unknown before the first report, then green, red (bypass + DNS), green, red (DNS)
  const segs = [...pi.matchAll(/class="seg seg-(\w+)"/g)].map((m) => m[1]);
  // problems are drawn last, on top (a short one is widened to be seen)
  expect(segs).toEqual(["unknown", "green", "green", "red", "red"]);
  expect(pi).toContain("exposed 1 h, 07:00 UTC – 08:00 UTC: Bypass, DNS leak");
  expect(pi).toMatch(
    /data-tip="Last 24 h: 2 problem stretches; exposed 14 min, 09:00 UTC – 09:14 UTC: DNS leak;/,
  );
  // both exits of a dual-stack client, side by side
  const sweden = rowOf(html, "sweden");
  expect(sweden).toContain("198.51.100.7");
  expect(sweden).toContain("2001:db8:2::7");
});

test("search by country name and by check words; filters by check, muted and paused", async () => {
  const names = (html: string) =>
    [...html.matchAll(/class="client-link" id="link-[^"]+">([^<]+)</g)].map((m) => m[1]).sort();
  // "sweden" is also a client name; the country is what matters: Brazil's exit is shown by name
  expect(names((await page("/?q=Brazil")).html)).toEqual(["muted-one", "paused-one", "pi", "sweden"].sort());
  expect(names((await page("/?q=dns%20leak")).html)).toEqual(["pi"]);
  expect(names((await page("/?check=dns:leak")).html)).toEqual(["pi"]);
  expect(names((await page("/?check=bypass:leak")).html)).toEqual([]);
  expect(names((await page("/?flag=muted")).html)).toEqual(["muted-one"]);
  expect(names((await page("/?flag=paused")).html)).toEqual(["paused-one"]);
  expect(names((await page("/?q=Paused")).html)).toEqual(["paused-one"]);
});

test("events: one report that flipped two verdicts is one incident, with relative time, absolute on hover", async () => {
  const { html } = await page(`/events?client=${world.id("pi")}`);
  const cards = [
    ...html.matchAll(/<li class="incident inc-(\w+)" id="incident-(\d+)">([\s\S]*?)<\/ul>\s*<\/li>/g),
  ];
  const titles = cards.map(
    (c) => /<span class="sev-dot" aria-hidden="true"><\/span><span>([^<]*)</.exec(c[3] as string)?.[1],
  );
  // the bypass was the exit moving to the home address: that change is part of the same incident
  expect(titles).toEqual([
    "DNS leak",
    "Bypass ended + DNS leak ended + Exit changed",
    "Bypass: traffic leaves through home + DNS leak + Exit changed",
    "First report",
  ]);
  const double = cards[2]?.[3] as string;
  expect(double).toContain('title="2026-11-20 07:00:00 UTC"');
  expect(double).toContain(">2 h ago<");
  expect((double.match(/<b class="inc-kind">/g) ?? []).length).toBe(3);
});

test("events: text search in reasons, client names and event titles", async () => {
  const titles = async (q: string) =>
    [
      ...(await page(`/events?q=${encodeURIComponent(q)}`)).html.matchAll(
        /class="inc-head"><span class="sev sev-\w+"><span class="sev-dot" aria-hidden="true"><\/span><span>([^<]*)</g,
      ),
    ].map((m) => m[1]);
  // the events whose reason names the home resolver: both DNS leaks
  expect(await titles("203.0.113.53")).toEqual(["DNS leak", "DNS leak"]);
  // by title: pi's exit moved twice (to home and back), sweden's once
  expect(await titles("exit changed")).toEqual(["Exit changed", "Exit changed", "Exit changed"]);
  expect((await titles("sweden")).length).toBeGreaterThan(0);
  expect(await titles("no such thing")).toEqual([]);
});

test("client page: the week links problem stretches to their incidents; uptime over observed time; old exits keep their country", async () => {
  const pi = await page(`/clients/${world.id("pi")}`);
  const link =
    /<a href="\/events\?client=[^"#]+#incident-(\d+)" aria-label="exposed 1 h, 07:00 UTC – 08:00 UTC: Bypass, DNS leak" class="week-link">/.exec(
      pi.html,
    );
  expect(link).not.toBeNull();
  const events = await page(`/events?client=${world.id("pi")}`);
  expect(events.html).toContain(`id="incident-${link?.[1]}"`);
  expect(pi.html).toContain("· 3 h 14 min observed");
  const sweden = await page(`/clients/${world.id("sweden")}`);
  const exits = sweden.html.slice(
    sweden.html.indexOf("Exit addresses"),
    sweden.html.indexOf("DNS resolvers"),
  );
  expect(exits).toContain("198.51.100.140, 2001:db8:2::7");
  expect(exits).toContain("Sweden · AS64504 · Second VPN AB");
  expect(exits).toContain("Brazil · AS64501 · VPN Co São Paulo");
});

test("analytics: server-rendered SVG charts with tables, worst clients first, for viewers too", async () => {
  const { status, html } = await page("/analytics?period=7d", viewer);
  expect(status).toBe(200);
  expect(html).toContain('role="img" aria-labelledby="inc-chart-title"');
  expect(html).not.toContain("<script>");
  expect(html).not.toMatch(/ style="/);
  const worst = html.slice(html.indexOf('class="simple worst"'));
  const order = [...worst.matchAll(/<th scope="row"><a href="\/clients\/[^"]+">([^<]+)</g)].map((m) => m[1]);
  expect(order[0]).toBe("pi");
  expect(worst).toContain("1 bypass, 2 DNS leaks");
  expect((await page("/analytics?period=90d")).status).toBe(200);
  expect((await page("/analytics?period=nonsense")).html).toContain('aria-current="page">7 days<');
});
