/**
 * No home identity, no green bypass: a server that knows no home address or AS says so (verdict,
 * client status, API warning, dashboard banner), and judges every client again the moment a
 * home identity exists, learned while running or configured at a restart, without a new report.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { createUser } from "../src/server/auth/users.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { buildReport, type ReportSpec, testGeo } from "../src/server/monitor/testing.ts";
import { startDroppingEcho } from "./fakes/echo.ts";
import { type Credentials, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";
import { PASSWORD, signIn } from "./web-helpers.ts";

const HOME_EXIT = "203.0.113.7"; // the home line in testGeo's small world
const BANNER = "Home address unknown: bypass cannot be checked";
type Server = Awaited<ReturnType<typeof startTestServer>>;
type ClientJson = {
  status: string;
  last_seen: string | null;
  verdicts: Record<"bypass" | "dns" | "ipv6" | "exit", { status: string; reason: string }>;
};

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A data dir with one enrolled client, a viewer API token and a dashboard admin. */
async function prepare() {
  const dir = tempDir("sentinel-home-");
  cleanups.push(() => dir.remove());
  const store = await openServerStore(dir.path);
  const cred = await enrollClient(store, loadKeyring(dir.path), "wg-pi", "http://x", Date.now());
  const token = (await createApiToken(store, "viewer", "viewer", Date.now())).token;
  await createUser(store, { name: "admin", role: "admin", password: PASSWORD }, Date.now());
  await store.close();
  return { dir: dir.path, cred, token };
}

async function start(dataDir: string, opts: Parameters<typeof startTestServer>[0] = {}): Promise<Server> {
  const server = await startTestServer({ dataDir, geo: testGeo, ...opts });
  cleanups.push(() => server.stop());
  return server;
}

const report = async (server: Server, cred: Credentials, spec: ReportSpec = {}) => {
  const res = await fetch(signedPost(server.url, cred, JSON.stringify(buildReport(spec, Date.now()))));
  expect(res.status).toBe(202);
};
const api = async <T>(server: Server, token: string, path: string) =>
  (await (
    await fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${token}` } })
  ).json()) as T;
const clientOf = (server: Server, token: string, id: string) =>
  api<ClientJson>(server, token, `/api/v1/clients/${id}`);
const eventKinds = async (server: Server, token: string, id: string) =>
  (await api<{ events: { kind: string }[] }>(server, token, `/api/v1/clients/${id}/events`)).events.map(
    (e) => e.kind,
  );
const waitFor = async (what: string, cond: () => Promise<boolean>) => {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
};
/** Signs in once (argon2 is slow on purpose); then fetches dashboard pages as the admin. */
const dashboard = async (server: Server) => {
  const handle = (p: string, init?: RequestInit) =>
    fetch(`${server.url}${p}`, { ...init, redirect: "manual" });
  const { cookie } = await signIn(handle, "admin");
  return async (path: string) => (await handle(path, { headers: { cookie } })).text();
};

describe("a server without a home identity", () => {
  test("judges bypass unknown (yellow, never Protected) and says why in the verdict, the API and the dashboard", async () => {
    const { dir, cred, token } = await prepare();
    const server = await start(dir, { homeLearn: false });
    await report(server, cred);

    const c = await clientOf(server, token, cred.id);
    expect(c.status).toBe("yellow");
    expect(c.verdicts.bypass.status).toBe("unknown");
    expect(c.verdicts.bypass.reason).toContain("--no-home-learn");
    expect(c.verdicts.bypass.reason).toContain("--home-ip");

    const list = await api<{ warnings: { code: string; title: string; message: string }[] }>(
      server,
      token,
      "/api/v1/clients",
    );
    expect(list.warnings).toEqual([
      { code: "home_unknown", title: BANNER, message: expect.stringContaining("--home-ip") },
    ]);

    const page = await dashboard(server);
    for (const path of ["/", `/clients/${cred.id}`, "/events"])
      expect(await page(path), path).toContain(`<p class="banner-title">${BANNER}</p>`);
    const overview = await page("/");
    expect(overview).toContain(`id="row-${cred.id}" class="client-row row-yellow"`);
    expect(overview).toContain('<span class="badge badge-yellow">Warning</span>');
    expect(overview).not.toContain('<span class="badge badge-green">Protected</span>');
  }, 20_000);
});

describe("as soon as a home identity exists, every client is judged again", () => {
  test("learned while running: a client whose exit turns out to be home goes red without a new report", async () => {
    const { dir, cred, token } = await prepare();
    const echo = startDroppingEcho(); // the server's own uplink gets no answer yet
    cleanups.push(() => echo.stop());
    const server = await start(dir, {
      homeLearn: true,
      ip4Provider: [echo.url],
      ip6Provider: [],
      homeRefresh: 3_600_000,
    });
    await waitFor("the first learning attempt", async () => echo.hits > 0);
    await report(server, cred, { v4: HOME_EXIT });
    const before = await clientOf(server, token, cred.id);
    expect(before.status).toBe("yellow");
    expect(before.verdicts.bypass.reason).toContain("no IP provider has answered");
    expect((await api<{ warnings: unknown[] }>(server, token, "/api/v1/clients")).warnings).toHaveLength(1);

    echo.answer = HOME_EXIT; // the uplink is back: the providers see the home line
    await server.home.refresh();
    await waitFor(
      "the client to be judged again",
      async () => (await clientOf(server, token, cred.id)).status === "red",
    );

    const after = await clientOf(server, token, cred.id);
    expect(after.verdicts.bypass.status).toBe("leak");
    expect(after.last_seen).toBe(before.last_seen); // no report came in meanwhile
    expect(await eventKinds(server, token, cred.id)).toContain("bypass.started");
    expect((await api<{ warnings: unknown[] }>(server, token, "/api/v1/clients")).warnings).toEqual([]);
    expect(await (await dashboard(server))("/")).not.toContain(BANNER);
  }, 20_000);

  test("configured at a restart: stored verdicts judged against no home are judged again at start", async () => {
    const { dir, cred, token } = await prepare();
    const first = await start(dir, { homeLearn: false });
    await report(first, cred, { v4: HOME_EXIT });
    expect((await clientOf(first, token, cred.id)).verdicts.bypass.status).toBe("unknown");
    await first.stop();

    const second = await start(dir, { homeLearn: false, homeIp: [HOME_EXIT] });
    await waitFor(
      "the stored client to be judged again",
      async () => (await clientOf(second, token, cred.id)).status === "red",
    );
    expect((await clientOf(second, token, cred.id)).verdicts.bypass.status).toBe("leak");
    expect(await eventKinds(second, token, cred.id)).toContain("bypass.started");
  }, 20_000);
});
