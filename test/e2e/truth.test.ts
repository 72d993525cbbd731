/**
 * What only a browser shows (headless Chromium via playwright-core): the "home address unknown"
 * banner leaves an open overview by itself once the server learns its home, while the client it
 * exposes turns red in place; an offline client's last verdicts are drawn grey, not in colour.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { loadKeyring } from "../../src/server/auth/keyring.ts";
import { createUser } from "../../src/server/auth/users.ts";
import { enrollClient } from "../../src/server/enrollment.ts";
import { buildReport, type ReportSpec, testGeo } from "../../src/server/monitor/testing.ts";
import { startDroppingEcho } from "../fakes/echo.ts";
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
const PASSWORD = "correct horse battery";
const HOME_EXIT = "203.0.113.7";

const dir = tempDir("sentinel-e2e-truth-");
const echo = startDroppingEcho(); // the server's uplink answers nothing yet: home unknown
let server: Awaited<ReturnType<typeof startTestServer>>;
let browser: Browser;
let page: Page;
const creds: Record<string, Credentials> = {};

const report = async (name: string, spec: ReportSpec = {}) => {
  const body = JSON.stringify(buildReport(spec, Date.now()));
  expect((await fetch(signedPost(server.url, creds[name] as Credentials, body))).status).toBe(202);
};

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  await createUser(store, { name: "alice", role: "admin", password: PASSWORD }, Date.now());
  for (const name of ["at-home", "gone-quiet"])
    creds[name] = await enrollClient(store, keyring, name, "http://x", Date.now());
  await store.close();
  server = await startTestServer({
    dataDir: dir.path,
    geo: testGeo,
    homeLearn: true,
    ip4Provider: [echo.url],
    ip6Provider: [],
    homeRefresh: 3_600_000,
    grace: 0, // a client reporting every second is offline a second after its last report
    sweepIntervalMs: 100,
  });
  // A long interval: this client must still be online (its chips fresh) when the last test runs,
  // however slowly Chromium starts on a loaded machine.
  await report("at-home", { v4: HOME_EXIT, intervalS: 3600 });
  await report("gone-quiet", { intervalS: 1 });
  browser = await chromium.launch({
    executablePath: Bun.which("chromium") ?? "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(`${server.url}/login`);
  await page.getByLabel("User name").fill("alice");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  echo.stop();
  dir.remove();
});

test("the home-unknown banner goes away by itself once home is learned, and the exposed client turns red", async () => {
  const banner = page.locator("#banners .banner");
  await banner.waitFor({ state: "visible", timeout: 3000 });
  expect(await banner.textContent()).toContain("Home address unknown: bypass cannot be checked");
  const row = page.locator(`#row-${creds["at-home"]?.id}`);
  expect(await row.getAttribute("class")).toContain("row-yellow");
  await page.locator("[data-live-indicator][data-state='live']").waitFor({ timeout: 5000 });

  echo.answer = HOME_EXIT; // the uplink is back, and the providers see the home line
  await server.home.refresh();
  await page.locator(`#row-${creds["at-home"]?.id}.row-red`).waitFor({ timeout: 3000 });
  await banner.waitFor({ state: "detached", timeout: 3000 });
  expect(await page.locator("#banners").isVisible()).toBe(false);
}, 20_000);

test("an offline client's last verdicts are drawn grey with their time, not in their old colours", async () => {
  const id = creds["gone-quiet"]?.id as string;
  await page.reload();
  await page.locator(`#row-${id} .badge-red`).filter({ hasText: "Offline" }).waitFor({ timeout: 5000 });
  const stale = page.locator(`#row-${id} .chips-stale`);
  await stale.waitFor({ timeout: 3000 });
  expect(await stale.locator(".chips-as-of").textContent()).toMatch(/^as of \d\d:\d\d UTC$/);
  const colours = await page.evaluate((rowId) => {
    const colour = (el: Element | null) => (el ? getComputedStyle(el).color : null);
    return {
      stale: colour(document.querySelector(`#row-${rowId} .chips-stale .chip-green`)),
      fresh: colour(document.querySelector(".chips:not(.chips-stale) .chip-green")),
    };
  }, id);
  expect(colours.stale).not.toBeNull();
  expect(colours.fresh).not.toBeNull();
  expect(colours.stale).not.toBe(colours.fresh); // an old "ok" is not shown as a current green
}, 20_000);
