/**
 * Expectations that learn, end to end over HTTP with an injected clock: the exit networks a
 * client used in its last 30 days (from its history), exit.new_network when it leaves them, Lock
 * from the API and the dashboard, and exit.unexpected (red) outside the lock.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import { fakeNtfy } from "./fakes/notify-services.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const H = 3_600_000;
const dir = tempDir();
const clock = { t: Date.parse("2026-11-26T10:00:00Z") };
const now = () => clock.t;
const ntfy = fakeNtfy();
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: Credentials;
let fresh: Credentials;
let admin: string;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  cred = await enrollClient(store, loadKeyring(dir.path), "gluetun", "http://x", now());
  fresh = await enrollClient(store, loadKeyring(dir.path), "fresh", "http://x", now());
  admin = (await createApiToken(store, "admin", "admin", now())).token;
  await store.close();
  server = await startTestServer({
    dataDir: dir.path,
    now,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
    sweepIntervalMs: 60_000,
    notify: [`ntfy://${ntfy.host}/vpn`],
  });
});
afterAll(async () => {
  await server.stop();
  await ntfy.stop();
  dir.remove();
});

/** A report from `exit` (testGeo: 198.51.100.0/25 AS64501 BR, .128/25 AS64504 SE, 192.0.2.128/26 AS64502 DE). */
async function reportFrom(exit: string, who = cred) {
  const answers = [
    { provider: "http://echo-a", ip: exit, latency_ms: 12, error: null },
    { provider: "http://echo-b", ip: exit, latency_ms: 15, error: null },
  ];
  const body = JSON.stringify(
    sampleReport({
      observed_at: new Date(now()).toISOString(),
      ipv4: { ip: exit, consistent: true, answers },
    }),
  );
  const res = await fetch(signedPost(server.url, who, body, { nowS: Math.floor(now() / 1000) }));
  expect(res.status).toBe(202);
  return (await res.json()) as { status: string; reasons: string[] };
}

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${admin}`, ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const patch = (body: unknown) =>
  api(`/api/v1/clients/${cred.id}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });

type Ev = { kind: string; severity: string; evidence: { reason: string } & Record<string, unknown> };
const events = async (kind: string) =>
  ((await api(`/api/v1/clients/${cred.id}/events?kind=${kind}`)).body.events as Ev[]) ?? [];

describe("expectations that learn", () => {
  test("an exit in an AS not used in 30 days raises exit.new_network (yellow, alerted) naming what is normal", async () => {
    await reportFrom("198.51.100.7"); // AS64501 VPN Co São Paulo
    clock.t += 24 * H;
    await reportFrom("198.51.100.7");
    clock.t += H;
    const answer = await reportFrom("198.51.100.200"); // AS64504 Second VPN AB: never seen
    expect(answer.status).toBe("green"); // news, not a verdict
    const [ev] = await events("exit.new_network");
    expect(ev?.severity).toBe("yellow");
    expect(ev?.evidence.reason).toBe(
      "AS64504 Second VPN AB first seen; last 30 days: AS64501 VPN Co São Paulo 100 %.",
    );
    // alerted like other yellow events: the channel gets it
    const sent = () =>
      ntfy.delivered().some((r) => JSON.stringify(r.body).includes("AS64504 Second VPN AB first seen"));
    const deadline = Date.now() + 5000;
    while (!sent() && Date.now() < deadline) await Bun.sleep(25);
    expect(sent()).toBe(true);
  });

  test("a network of the last 30 days raises nothing, back and forth", async () => {
    clock.t += H;
    await reportFrom("198.51.100.7");
    clock.t += H;
    await reportFrom("198.51.100.201");
    expect((await events("exit.new_network")).length).toBe(1);
  });

  test("GET networks: the learned networks and countries by share of time", async () => {
    const { status, body } = await api(`/api/v1/clients/${cred.id}/networks`);
    expect(status).toBe(200);
    expect(body.window).toBe("30d");
    // AS64501 from the start for 25 h and 1 h later on; AS64504 for 1 h (its second stretch has just begun)
    expect(body.networks).toEqual([
      { asn: 64501, org: "VPN Co São Paulo", share_percent: 96.3, seconds: 26 * 3600 },
      { asn: 64504, org: "Second VPN AB", share_percent: 3.7, seconds: 3600 },
    ]);
    expect((body.countries as { country: string }[]).map((c) => c.country)).toEqual(["BR", "SE"]);
    expect(body.locked).toEqual({ exit_asns: null, exit_countries: null });
  });

  test("Lock turns the learned set into the expectation; outside it is red exit.unexpected with evidence", async () => {
    const locked = await api(`/api/v1/clients/${cred.id}/lock`, { method: "POST" });
    expect(locked.status).toBe(200);
    expect((locked.body.settings as Record<string, unknown>).exit_asns).toEqual([64501, 64504]);
    expect((locked.body.settings as Record<string, unknown>).exit_countries).toEqual(["BR", "SE"]);
    clock.t += H;
    expect((await reportFrom("198.51.100.7")).status).toBe("green");
    clock.t += H;
    const answer = await reportFrom("192.0.2.140"); // AS64502 Other Net, DE
    expect(answer.status).toBe("red");
    expect(answer.reasons.join(" ")).toContain(
      "Exit 192.0.2.140 (AS64502 Other Net, DE) is outside the networks this client is locked to",
    );
    const [ev] = await events("exit.unexpected");
    expect(ev?.severity).toBe("red");
    expect(ev?.evidence).toMatchObject({
      locked: { asns: [64501, 64504], countries: ["BR", "SE"] },
      outside: ["asn", "country"],
      ipv4: { ip: "192.0.2.140", asn: 64502, country: "DE" },
    });
    // the audit log says who locked it
    const audit = await openServerStore(dir.path);
    try {
      const entries = await audit.auth.listAudit({ limit: 10 });
      expect(entries.some((e) => e.action === "client.lock" && e.target === "gluetun")).toBe(true);
    } finally {
      await audit.close();
    }
  });

  test("unlocking with PATCH: the same exit is no longer red", async () => {
    const unlocked = await patch({ exit_asns: null, exit_countries: null });
    expect(unlocked.status).toBe(200);
    clock.t += 60_000;
    expect((await reportFrom("192.0.2.140")).status).toBe("green");
  });

  test("PATCH validates the lists with the one validator; Lock without history is a 409", async () => {
    const bad = await patch({ exit_asns: [0], exit_countries: ["sweden"] });
    expect(bad.status).toBe(400);
    expect(
      ((bad.body.error as { fields: { path: string }[] }).fields ?? []).map((f) => f.path).sort(),
    ).toEqual(["/exit_asns", "/exit_countries"]);
    const lower = await patch({ exit_countries: ["se"] });
    expect((lower.body.settings as Record<string, unknown>).exit_countries).toEqual(["SE"]);
    await patch({ exit_countries: null });
    const none = await api(`/api/v1/clients/${fresh.id}/lock`, { method: "POST" });
    expect(none.status).toBe(409);
    expect((none.body.error as { code: string }).code).toBe("nothing_learned");
  });
});
