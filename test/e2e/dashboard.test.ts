/**
 * The dashboard in a real browser (Debian's headless Chromium driven by playwright-core):
 * sign in, watch a client turn red within 2 s of a signed bypass report (SSE, no reload),
 * open its detail, mute it, sign out; the polling fallback when the stream is cut; screenshots
 * of overview and detail in light and dark mode under test-output/screenshots/.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { loadKeyring } from "../../src/server/auth/keyring.ts";
import { createUser } from "../../src/server/auth/users.ts";
import { enrollClient } from "../../src/server/enrollment.ts";
import { buildReport, HOME, type ReportSpec, testGeo } from "../../src/server/monitor/testing.ts";
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
const PASSWORD = "correct horse battery";
const XSS_NAME = "<img src=x onerror=alert(1)>";

const dir = tempDir("sentinel-e2e-");
let server: Awaited<ReturnType<typeof startTestServer>>;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const creds: Record<string, Credentials> = {};
const dialogs: string[] = [];
const cspErrors: string[] = [];

const report = async (name: string, spec: ReportSpec = {}) => {
  const body = JSON.stringify(buildReport(spec, Date.now()));
  const res = await fetch(signedPost(server.url, creds[name] as Credentials, body));
  expect(res.status).toBe(202);
};

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  await createUser(store, { name: "alice", role: "admin", password: PASSWORD }, Date.now());
  for (const name of [
    "living-room-pi",
    "office-wireguard",
    "travel-router",
    "gluetun-nas",
    "parents-openvpn",
    XSS_NAME,
  ]) {
    const e = await enrollClient(store, keyring, name, "http://x", Date.now());
    creds[name] = { id: e.id, secret: e.secret };
  }
  await store.close();
  server = await startTestServer({
    dataDir: dir.path,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
  });
  await report("living-room-pi");
  await report("office-wireguard", { v4: "198.51.100.140" });
  await report("travel-router", { resolvers: ["192.0.2.130"] }); // an unexpected resolver: DNS leak or suspect
  await report("gluetun-nas");
  await report(XSS_NAME);
  // parents-openvpn never reports: grey "Waiting"

  browser = await chromium.launch({
    executablePath: Bun.which("chromium") ?? "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  page = await context.newPage();
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("console", (m) => {
    if (m.type() === "error" && /Content.Security.Policy|Refused to/i.test(m.text()))
      cspErrors.push(m.text());
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  dir.remove();
});

async function shoot(name: string, scheme: "light" | "dark") {
  await page.emulateMedia({ colorScheme: scheme });
  await page.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
}

test("sign in, watch a client turn red within 2 s of a bypass report, open it, mute it, sign out", async () => {
  await page.goto(`${server.url}/`);
  expect(new URL(page.url()).pathname).toBe("/login");
  await page.getByLabel("User name").fill("alice");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);
  await expectText(page, "h1", "Overview");

  // the stream is open once the indicator says so
  await page.locator("[data-live-indicator][data-state='live']").waitFor({ timeout: 5000 });
  const id = creds["living-room-pi"]?.id as string;
  const row = page.locator(`#row-${id}`);
  expect(await row.getAttribute("class")).toContain("row-green");

  const sentAt = Date.now();
  await report("living-room-pi", {
    v4: "203.0.113.7",
    v4Answers: [
      ["ipify", "203.0.113.7"],
      ["icanhazip", "203.0.113.7"],
    ],
  });
  await page.locator(`#row-${id}.row-red`).waitFor({ timeout: 2000 });
  const tookMs = Date.now() - sentAt;
  expect(tookMs).toBeLessThan(2000);
  await expectText(page, `#row-${id} .badge`, "Exposed");
  await expectText(page, `#row-${id} .chip-red`, "Bypass");
  // the counts moved too, without a reload
  await expectText(page, "#status-counts .count-red .count-n", "1");
  console.log(`client turned red ${tookMs} ms after the report`);

  await shoot("overview", "light");
  await shoot("overview", "dark");
  await page.emulateMedia({ colorScheme: "light" });

  await page.getByRole("link", { name: "living-room-pi" }).click();
  await page.waitForURL(`${server.url}/clients/${id}`);
  await expectText(page, "h1", "living-room-pi");
  await expectText(page, ".summary .badge", "Exposed");
  await expectText(page, ".verdict-red h3", "Bypass");
  await expectText(page, ".timeline", "Bypass");
  await shoot("detail", "light");
  await shoot("detail", "dark");
  await page.emulateMedia({ colorScheme: "light" });

  await page.getByRole("button", { name: "Mute alerts for 24 h" }).click();
  await page.waitForURL(/notice=muted/);
  await expectText(page, ".notice-ok", "muted");
  await page.getByRole("button", { name: "Unmute alerts" }).waitFor();

  await page.locator("details.user-menu summary").click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login$/);
  await page.goto(`${server.url}/`);
  expect(new URL(page.url()).pathname).toBe("/login");
}, 30_000);

test("the theme toggle switches and remembers dark mode; the page fits 360 px", async () => {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 780 }, colorScheme: "light" });
  const p = await ctx.newPage();
  await signIn(p);
  await p.getByRole("button", { name: /Switch to dark theme/ }).click();
  expect(await p.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
  await p.reload();
  expect(await p.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await p.screenshot({ path: join(SHOTS, "overview-360-dark.png"), fullPage: true });
  await p.getByRole("button", { name: /Switch to light theme/ }).click();
  await p.screenshot({ path: join(SHOTS, "overview-360-light.png"), fullPage: true });
  await ctx.close();
}, 30_000);

test("when the event stream breaks, the page says so and keeps itself current by polling", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const p = await ctx.newPage();
  // the stream fails every time it connects (as behind a proxy that buffers or drops it)
  await ctx.route("**/events/stream**", (route) => route.fulfill({ status: 503, body: "unavailable" }));
  await signIn(p);
  await p.locator("[data-live-indicator][data-state='polling']").waitFor({ timeout: 5000 });
  await expectText(p, "[data-live-text]", "interrupted");
  const id = creds["gluetun-nas"]?.id as string;
  await report("gluetun-nas", {
    v4: "203.0.113.7",
    v4Answers: [
      ["ipify", "203.0.113.7"],
      ["icanhazip", "203.0.113.7"],
    ],
  });
  await p.locator(`#row-${id}.row-red`).waitFor({ timeout: 15_000 });
  await ctx.close();
}, 40_000);

test("hostile names never execute and the CSP was never violated", async () => {
  expect(dialogs).toEqual([]);
  expect(cspErrors).toEqual([]);
});

async function signIn(p: Page) {
  await p.goto(`${server.url}/login`);
  await p.getByLabel("User name").fill("alice");
  await p.getByLabel("Password").fill(PASSWORD);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL(`${server.url}/`);
}

async function expectText(p: Page, selector: string, text: string) {
  await p.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: 3000 });
}
