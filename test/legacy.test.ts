/**
 * The legacy keepalive key is a weaker credential than a client secret (one key shared by every
 * old client, no signature, no replay protection). It may only touch the clients it created
 * itself: a keepalive naming an enrolled client is refused and changes nothing.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { legacyToReport } from "../src/server/api/legacy/service.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import type { ClientRecord } from "../src/server/store/index.ts";
import { MIGRATIONS } from "../src/server/store/sqlite/migrations.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const KEY = "legacy-key-7f3a9c";
const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let enrolled: Credentials;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  enrolled = await enrollClient(store, loadKeyring(dir.path), "wg-pi", "http://x", Date.now());
  await store.close();
  server = await startTestServer({
    dataDir: dir.path,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
    legacyApiKey: KEY,
  });
  // the enrolled client is online and protected (a VPN exit, a resolver outside home)
  expect((await fetch(signedPost(server.url, enrolled, JSON.stringify(sampleReport())))).status).toBe(202);
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const keepalive = (body: unknown, key = KEY, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/api/v1/keepalive`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": key, ...headers },
    body: JSON.stringify(body),
  });

/** What a keepalive could change about a client, read from the database. */
async function snapshot(name: string) {
  await server.monitor.writeHeartbeats();
  const store = await openServerStore(dir.path);
  const c = (await store.clients.getByName(name)) as ClientRecord | null;
  await store.close();
  return c && { ...c, lastReport: JSON.stringify(c.lastReport) };
}

test("a keepalive naming an enrolled client is refused (401) and changes nothing", async () => {
  const before = await snapshot("wg-pi");
  expect(before?.status).toBe("green");
  // a forged bypass (the home address), under the client's name in any letter case
  for (const name of ["wg-pi", "WG-PI"]) {
    const res = await keepalive({ client_id: name, public_ip: HOME.addresses[0] });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  }
  expect(await snapshot("wg-pi")).toEqual(before);
});

test("the clients the keepalive created are its own: created on first contact, updated after", async () => {
  expect((await keepalive({ client_id: "old-router", public_ip: "198.51.100.9" })).status).toBe(200);
  const first = await snapshot("old-router");
  expect(first?.origin).toBe("legacy");
  expect((await keepalive({ client_id: "old-router", public_ip: HOME.addresses[0] })).status).toBe(200);
  expect((await snapshot("old-router"))?.status).toBe("red"); // the home address: a bypass
  // signed enrollment does not make a legacy name: `clients add` clients stay "enrolled"
  expect((await snapshot("wg-pi"))?.origin).toBe("enrolled");
});

test("an over-long client_id is a 400 naming the field, not silently cut", async () => {
  const long = `a${"b".repeat(64)}`;
  const res = await keepalive({ client_id: long, public_ip: "198.51.100.9" });
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; fields: { path: string }[] } };
  expect(body.error.code).toBe("validation_failed");
  expect(body.error.fields.map((f) => f.path)).toContain("/client_id");
  expect(await snapshot(long.slice(0, 64))).toBeNull();
});

test("wrong keys are throttled per address like failed report signatures: 401, then 429 + Retry-After", async () => {
  let res = await keepalive({ client_id: "x", ip: "198.51.100.1" }, "wrong-key");
  expect(res.status).toBe(401);
  for (let i = 0; i < 80 && res.status === 401; i++)
    res = await keepalive({ client_id: "x", ip: "198.51.100.1" }, `wrong-key-${i}`);
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
  expect(await snapshot("x")).toBeNull();
});

// a SQLite migration (PostgreSQL's schema began after it)
test.skipIf(TEST_POSTGRES !== null)(
  "an upgrade marks the clients whose last report came through the keepalive as legacy, and only those",
  async () => {
    const old = tempDir();
    const file = join(old.path, "sentinel.db");
    const db = new Database(file, { create: true, strict: true });
    const before = MIGRATIONS.findIndex((m) => typeof m === "string" && m.includes("ADD COLUMN origin"));
    expect(before).toBeGreaterThan(0);
    for (const [v, m] of MIGRATIONS.slice(0, before).entries()) {
      if (typeof m === "string") db.exec(m);
      else m(db);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }
    const client = db.query("INSERT INTO clients (id, name, created_at, secret_enc) VALUES (?, ?, 0, 'x')");
    const state = db.query(
      "INSERT INTO client_state (client_id, state_json, last_report_json) VALUES (?, '{}', ?)",
    );
    const keepalive = legacyToReport(
      {
        clientId: "old",
        ip: "198.51.100.9",
        clientVersion: null,
        timestamp: null,
        dnsTest: { location: null, colo: null },
        location: { country: null, city: null, region: null, org: null, timezone: null },
      },
      300,
      0,
    );
    client.run("c_old", "old");
    state.run("c_old", JSON.stringify(keepalive));
    client.run("c_signed", "signed");
    state.run("c_signed", JSON.stringify(sampleReport()));
    client.run("c_never", "never-reported");
    db.close();

    const store = await openServerStore(old.path);
    expect(Object.fromEntries((await store.clients.list()).map((c) => [c.id, c.origin]))).toEqual({
      c_old: "legacy",
      c_signed: "enrolled",
      c_never: "enrolled",
    });
    await store.close();
    old.remove();
  },
);
