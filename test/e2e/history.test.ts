/**
 * The dashboard's past in a real browser (Debian's headless Chromium via playwright-core), at
 * 1366 px and 390 px, light and dark, with screenshots under test-output/screenshots/ and an
 * accessibility check (axe-core, WCAG 2.1 A and AA) that fails on any violation: the overview's
 * strips and durations, focus kept and changed rows highlighted on live updates, the red count
 * in the title, incidents as cards on a phone without sideways scrolling, the client's week,
 * and the analytics page's SVG under the strict CSP.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { loadKeyring } from "../../src/server/auth/keyring.ts";
import { createUser } from "../../src/server/auth/users.ts";
import { enrollClient } from "../../src/server/enrollment.ts";
import { buildReport, HOME, type ReportSpec, testGeo } from "../../src/server/monitor/testing.ts";

import { BYPASS, DNS_LEAK, H } from "../helpers/history.ts";
import { type Credentials, signedPost } from "../helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "../helpers/server.ts";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const SHOTS = join(import.meta.dir, "../../test-output/screenshots");
const AXE = await Bun.file(join(import.meta.dir, "../../node_modules/axe-core/axe.min.js")).text();
const PASSWORD = "correct horse battery";
const NAMES = ["living-room-pi", "office-wireguard", "travel-router", "gluetun-nas", "parents-openvpn"];
const WIDTHS = { desktop: { width: 1366, height: 900 }, phone: { width: 390, height: 844 } } as const;

const dir = tempDir("sentinel-e2e-history-");
let server: Awaited<ReturnType<typeof startTestServer>>;
let browser: Browser;
/** one sign-in for every page (sign-ins are rate-limited per address) */
let signedIn: Awaited<ReturnType<import("playwright-core").BrowserContext["storageState"]>>;
const creds: Record<string, Credentials> = {};
const cspErrors: string[] = [];

const report = async (name: string, spec: ReportSpec = {}) => {
  const body = JSON.stringify(buildReport(spec, Date.now()));
  expect((await fetch(signedPost(server.url, creds[name] as Credentials, body))).status).toBe(202);
};

/** A week of history as the monitor would have written it: rows and the events of each change. */
async function seedWeek() {
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  await createUser(store, { name: "alice", role: "admin", password: PASSWORD }, Date.now());
  const now = Date.now();
  for (const [i, name] of NAMES.entries()) {
    const e = await enrollClient(store, keyring, name, "http://x", now - 8 * 24 * H);
    creds[name] = { id: e.id, secret: e.secret };
    const row = (at: number, status: string, liveness: string, causes: string) =>
      store.history.record(e.id, {
        at,
        status,
        liveness,
        causes,
        exitIpv4: "198.51.100.7",
        exitIpv6: null,
        resolvers: "192.0.2.1",
        detail: { exits: [{ ip: "198.51.100.7", country: "BR", asn: 64501, org: "VPN Co" }], resolvers: [] },
      });
    const event = (at: number, kind: string, reason: string) =>
      store.events.append({
        clientId: e.id,
        kind,
        from: null,
        to: null,
        evidence: { reason },
        at,
        suppressed: false,
      });
    if (name === "parents-openvpn") continue; // never reports: unknown
    await row(now - (7 - i * 0.3) * 24 * H, "green", "online", "");
    for (let d = 6; d >= 1; d -= 2 + (i % 2)) {
      const at = now - d * 24 * H + i * 3 * H;
      const [status, liveness, causes, kinds] =
        (d + i) % 3 === 0
          ? ["red", "online", "bypass:leak,dns:leak", ["bypass.started", "dns_leak.started"]]
          : (d + i) % 3 === 1
            ? ["red", "offline", "offline", ["client.offline"]]
            : ["yellow", "online", "dns:suspect", ["dns.suspect"]];
      await row(at, status, liveness, causes);
      for (const k of kinds) await event(at, k, `Seeded ${k} for ${name}.`);
      await row(at + (1 + i) * H, "green", "online", "");
      await event(
        at + (1 + i) * H,
        kinds[0] === "client.offline" ? "client.online" : "bypass.ended",
        "Ended.",
      );
    }
  }
  await store.close();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  await seedWeek();
  server = await startTestServer({
    dataDir: dir.path,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
  });
  await report("living-room-pi");
  await report("office-wireguard", { v4: "198.51.100.140", v6: "2001:db8:2::7" }); // Sweden, and IPv6
  await report("travel-router", DNS_LEAK);
  await report("gluetun-nas");
  browser = await chromium.launch({
    executablePath: Bun.which("chromium") ?? "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
  });
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await p.goto(`${server.url}/login`);
  await p.getByLabel("User name").fill("alice");
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL(`${server.url}/`);
  signedIn = await ctx.storageState();
  await ctx.close();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  dir.remove();
});

async function open(size: keyof typeof WIDTHS, scheme: "light" | "dark" = "light"): Promise<Page> {
  const ctx = await browser.newContext({
    viewport: WIDTHS[size],
    colorScheme: scheme,
    storageState: signedIn,
  });
  const p = await ctx.newPage();
  p.on("console", (m) => {
    if (m.type() === "error" && /Content.Security.Policy|Refused to/i.test(m.text()))
      cspErrors.push(m.text());
  });
  await p.goto(`${server.url}/`);
  return p;
}

/** axe-core in the page (evaluated over the DevTools protocol, so the CSP stays as strict as it is). */
async function accessibilityViolations(p: Page): Promise<string[]> {
  await p.evaluate(AXE);
  const violations = await p.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (o: unknown) => Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const r = await axe.run({
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return r.violations.map(
      (v) =>
        `${v.id}: ${v.nodes
          .map((n) => n.target.join(" "))
          .slice(0, 5)
          .join(", ")}`,
    );
  });
  return violations;
}

const sideways = (p: Page) => p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

async function shoot(p: Page, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await p.emulateMedia({ colorScheme: scheme });
    await p.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
    expect(await accessibilityViolations(p), `${name} ${scheme}`).toEqual([]);
  }
}

test("the accessibility check fails on a violation (it is not a check that cannot fail)", async () => {
  const p = await open("desktop");
  await p.evaluate(() => document.querySelector("main")?.append(document.createElement("img")));
  expect((await accessibilityViolations(p)).map((v) => v.split(":")[0])).toContain("image-alt");
  await p.context().close();
}, 30_000);

describe("overview", () => {
  test("1366 px: strips, durations, the IPv6 exit beside the IPv4 one; accessible in light and dark", async () => {
    const p = await open("desktop");
    const pi = creds["living-room-pi"]?.id as string;
    const router = creds["travel-router"]?.id as string;
    // the DNS leak it reported a moment ago is the red end of its strip
    await p.locator(`#strip-${router} rect.seg-red`).last().waitFor({ state: "attached", timeout: 3000 });
    expect(await p.locator(".cell-strip .strip").count()).toBe(5);
    expect(await p.locator(`#row-${pi} .since`).textContent()).toMatch(/^for \d+ s$/);
    const office = p.locator(`#row-${creds["office-wireguard"]?.id} .exit`);
    expect(await office.count()).toBe(2);
    // keyboard: the strip is a tab stop whose words appear on focus
    await p.locator(`#strip-${pi}`).focus();
    const tip = await p.evaluate(
      (id) => getComputedStyle(document.getElementById(id) as Element, "::after").content,
      `strip-${pi}`,
    );
    expect(tip).toContain("Last 24 h:");
    expect(await p.title()).toBe("(1 exposed) Overview · VPN Sentinel");
    await shoot(p, "history-overview-1366");
    await p.context().close();
  }, 60_000);

  test("a live update keeps keyboard focus where it was, highlights the rows that changed, and counts red in the title", async () => {
    const p = await open("desktop");
    await p.locator("[data-live-indicator][data-state='live']").waitFor({ timeout: 5000 });
    const nas = creds["gluetun-nas"]?.id as string;
    const pi = creds["living-room-pi"]?.id as string;
    await p.locator(`#link-${pi}`).focus();
    await report("gluetun-nas", BYPASS); // status flips: the row in place, then the list refetched
    await p.locator(`#row-${nas}.row-red[data-changed]`).waitFor({ timeout: 3000 });
    await p.waitForFunction(() => document.title.startsWith("(2 exposed)"), undefined, { timeout: 3000 });
    // the refetch after a flip replaces the whole list: focus must come back to the same link
    await p.waitForTimeout(2500);
    expect(await p.evaluate(() => document.activeElement?.id)).toBe(`link-${pi}`);
    await report("living-room-pi", DNS_LEAK); // the focused row itself changes
    await p.locator(`#row-${pi}.row-red`).waitFor({ timeout: 3000 });
    await p.waitForTimeout(2500);
    expect(await p.evaluate(() => document.activeElement?.id)).toBe(`link-${pi}`);
    expect(await p.title()).toBe("(3 exposed) Overview · VPN Sentinel");
    await p.context().close();
  }, 30_000);

  test("390 px: cards with their strips, no sideways scroll, accessible", async () => {
    const p = await open("phone", "dark");
    expect(await sideways(p)).toBeLessThanOrEqual(0);
    expect(await p.locator(".cell-strip .strip").first().isVisible()).toBe(true);
    await shoot(p, "history-overview-390");
    await p.context().close();
  }, 60_000);
});

describe("events", () => {
  test("incidents with relative times (absolute on hover) and text search, at both widths", async () => {
    for (const size of ["desktop", "phone"] as const) {
      const p = await open(size);
      await p.goto(`${server.url}/events`);
      const first = p.locator(".incident").first();
      await first.waitFor();
      const time = first.locator("time");
      expect(await time.textContent()).toMatch(/ago$|just now/);
      expect(await time.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      // one seeded change flipped bypass and DNS: one card with both
      expect(
        await p.locator(".incident", { hasText: "Bypass: traffic leaves through home + DNS leak" }).count(),
      ).toBeGreaterThan(0);
      await p.getByLabel("Search").fill("travel-router");
      await p.waitForFunction(
        () => new URL(location.href).searchParams.get("q") === "travel-router",
        undefined,
        { timeout: 3000 },
      );
      await p.locator(".incident").first().waitFor();
      const clients = await p.locator(".inc-meta a").allTextContents();
      expect(new Set(clients)).toEqual(new Set(["travel-router"]));
      await p.getByLabel("Search").fill("");
      await p.waitForFunction(() => !new URL(location.href).searchParams.get("q"), undefined, {
        timeout: 3000,
      });
      expect(await sideways(p)).toBeLessThanOrEqual(0);
      await shoot(p, `history-events-${WIDTHS[size].width}`);
      await p.context().close();
    }
  }, 90_000);
});

describe("client and analytics", () => {
  test("the client's week links its problem stretches to their incidents; uptime is over observed time", async () => {
    for (const size of ["desktop", "phone"] as const) {
      const p = await open(size);
      await p.goto(`${server.url}/clients/${creds["travel-router"]?.id}`);
      const link = p.locator(".week-link").first();
      await link.waitFor({ state: "attached" });
      await link.focus();
      expect(await p.evaluate(() => document.activeElement?.getAttribute("class"))).toBe("week-link");
      expect(await p.locator(".bars-observed").first().textContent()).toMatch(/observed$/);
      expect(await sideways(p)).toBeLessThanOrEqual(0);
      await shoot(p, `history-client-${WIDTHS[size].width}`);
      const href = (await link.getAttribute("href")) as string;
      await p.goto(`${server.url}${href}`);
      const anchor = href.split("#")[1] as string;
      await p.locator(`#${anchor}`).waitFor();
      await p.context().close();
    }
  }, 90_000);

  test("analytics: charts drawn on the server, no script, no inline style, at both widths", async () => {
    for (const size of ["desktop", "phone"] as const) {
      const p = await open(size);
      await p.goto(`${server.url}/analytics?period=7d`);
      await p.locator(".chart-svg").first().waitFor();
      expect(await p.locator(".chart-svg rect[class^='k-']").count()).toBeGreaterThan(0);
      expect(await p.locator("[style]").count()).toBe(0);
      expect(await sideways(p)).toBeLessThanOrEqual(0);
      await shoot(p, `history-analytics-${WIDTHS[size].width}`);
      await p.context().close();
    }
    expect(cspErrors).toEqual([]);
  }, 90_000);
});
