/**
 * The server end to end, over HTTP, with an injected clock: verdicts, events, liveness,
 * restarts without false alerts, settings, uptime and the legacy keepalive.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
const clock = { t: Date.parse("2026-11-26T10:00:00Z") };
const now = () => clock.t;
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: Credentials;
let admin: string;

const start = () =>
  startTestServer({
    dataDir: dir.path,
    now,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
    legacyApiKey: "legacy-key-123",
    sweepIntervalMs: 60_000, // the test sweeps by hand after moving the clock
  });

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  cred = await enrollClient(store, loadKeyring(dir.path), "wg-pi", "http://x", now());
  admin = (await createApiToken(store, "admin", "admin", now())).token;
  await store.close();
  server = await start();
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const report = (over: Parameters<typeof sampleReport>[0] = {}) =>
  fetch(
    signedPost(
      server.url,
      cred,
      JSON.stringify(sampleReport({ observed_at: new Date(now()).toISOString(), ...over })),
      { nowS: Math.floor(now() / 1000) },
    ),
  );
const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${admin}`, ...(init.headers ?? {}) },
  });
  return {
    status: res.status,
    body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>),
  };
};
type Verdict = { status: string };
const client = async () =>
  (await api(`/api/v1/clients/${cred.id}`)).body as Record<string, unknown> & {
    verdicts: Record<"bypass" | "dns" | "ipv6" | "exit", Verdict>;
  };
const kinds = async () =>
  ((await api(`/api/v1/clients/${cred.id}/events?limit=500`)).body as { events: { kind: string }[] }).events
    .map((e) => e.kind)
    .reverse();
const bypassed = {
  ipv4: {
    ip: "203.0.113.7",
    consistent: true,
    answers: [{ provider: "p", ip: "203.0.113.7", latency_ms: 1, error: null }],
  },
};

describe("verdicts and events", () => {
  test("a healthy VPN report: green, one first_seen event", async () => {
    expect((await report()).status).toBe(202);
    const c = await client();
    expect(c.status).toBe("green");
    expect(c.verdicts.bypass.status).toBe("ok");
    expect(c.verdicts.dns.status).toBe("ok");
    expect(await kinds()).toEqual(["client.first_seen"]);
  });

  test("the same report again stores no event (history grows with changes)", async () => {
    clock.t += 30_000;
    await report();
    expect(await kinds()).toEqual(["client.first_seen"]);
  });

  test("the exit is the home address: red bypass with evidence", async () => {
    clock.t += 30_000;
    await report(bypassed);
    const c = await client();
    expect(c.status).toBe("red");
    expect(c.verdicts.bypass.status).toBe("leak");
    expect(JSON.stringify(c.verdicts.bypass)).toContain("203.0.113.7");
    expect(await kinds()).toContain("bypass.started");
  });

  test("back through the VPN: bypass ended", async () => {
    clock.t += 30_000;
    await report();
    expect((await client()).status).toBe("green");
    expect((await kinds()).slice(-2)).toContain("bypass.ended");
  });

  test("no resolver observed: DNS unknown is yellow, never green", async () => {
    clock.t += 30_000;
    await report({ dns: [] });
    const c = await client();
    expect(c.verdicts.dns.status).toBe("unknown");
    expect(c.status).toBe("yellow");
    clock.t += 30_000;
    await report();
  });

  test("the global events API filters by kind and pages with a cursor", async () => {
    const page1 = (await api("/api/v1/events?limit=2")).body as {
      events: { id: number }[];
      next_cursor: string;
    };
    expect(page1.events).toHaveLength(2);
    const page2 = (await api(`/api/v1/events?limit=2&cursor=${page1.next_cursor}`)).body as {
      events: { id: number }[];
    };
    expect(page2.events[0]?.id).toBeLessThan(page1.events[1]?.id ?? 0);
    const onlyBypass = (await api("/api/v1/events?kind=bypass.started")).body as {
      events: { kind: string }[];
    };
    expect(onlyBypass.events.map((e) => e.kind)).toEqual(["bypass.started"]);
    expect((await api("/api/v1/events?kind=nonsense")).status).toBe(400);
  });
});

describe("liveness", () => {
  test("late after 1.5 × interval, offline after interval + grace, online on the next report", async () => {
    const last = now();
    clock.t = last + 44_000;
    await server.monitor.sweep();
    expect((await client()).liveness).toBe("online");
    clock.t = last + 46_000;
    await server.monitor.sweep();
    expect((await client()).liveness).toBe("late");
    clock.t = last + 91_000;
    await server.monitor.sweep();
    expect((await client()).liveness).toBe("offline");
    expect((await client()).status).toBe("red");
    // a second sweep finds nothing new: one offline event, not two
    await server.monitor.sweep();
    expect((await kinds()).filter((k) => k === "client.offline")).toHaveLength(1);
    await report();
    expect((await client()).liveness).toBe("online");
    expect((await kinds()).at(-1)).toBe("client.online");
  });

  test("a server restart never causes a false offline: a full grace counts from the start", async () => {
    await report();
    const before = (await kinds()).length;
    await server.stop();
    clock.t += 10 * 60_000; // the server was down for 10 minutes
    server = await start();
    await server.monitor.sweep();
    expect((await client()).liveness).toBe("online");
    clock.t += 30_000 + 59_000; // still within interval + grace of the restart
    await server.monitor.sweep();
    expect((await client()).liveness).not.toBe("offline");
    expect((await kinds()).slice(before)).not.toContain("client.offline");
    await report();
  });

  test("uptime counts the server's own downtime as unknown", async () => {
    const u = (await api(`/api/v1/clients/${cred.id}/uptime?window=24h`)).body as {
      uptime: number;
      unknown_s: number;
      exits: { ip: string }[];
    };
    expect(u.unknown_s).toBeGreaterThanOrEqual(600);
    expect(u.uptime).toBeGreaterThan(0);
    expect(u.exits[0]?.ip).toBe("198.51.100.7");
    expect((await api(`/api/v1/clients/${cred.id}/uptime?window=forever`)).status).toBe(400);
  });
});

describe("settings", () => {
  test("PATCH sets interval, grace, expectations and pause; bad values are 400 with paths", async () => {
    const bad = await api(`/api/v1/clients/${cred.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ interval: -1, expected_country: "Poland", hack: 1 }),
    });
    expect(bad.status).toBe(400);
    const paths = ((bad.body as { error: { fields: { path: string }[] } }).error.fields ?? []).map(
      (f) => f.path,
    );
    expect(paths).toEqual(expect.arrayContaining(["/interval", "/expected_country", "/hack"]));

    const ok = await api(`/api/v1/clients/${cred.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ interval: 60, grace: 120, expected_country: "se", paused: true }),
    });
    expect(ok.status).toBe(200);
    expect((ok.body as { settings: Record<string, unknown> }).settings).toMatchObject({
      interval: 60,
      grace: 120,
      expected_country: "SE",
      paused: true,
    });
    expect((await client()).status).toBe("grey");
    const resumed = await api(`/api/v1/clients/${cred.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: '{"paused":false}',
    });
    expect(resumed.status).toBe(200);
  });

  test("PATCH tags: stored in lower case, each once; bad tags are 400 with the path; [] removes them", async () => {
    const patch = (body: unknown) =>
      api(`/api/v1/clients/${cred.id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    for (const tags of [
      ["has space"],
      "home",
      [7],
      Array.from({ length: 33 }, (_, i) => `t${i}`),
      ["x".repeat(65)],
    ]) {
      const bad = await patch({ tags });
      expect(bad.status, JSON.stringify(tags)).toBe(400);
      expect((bad.body as { error: { fields: { path: string }[] } }).error.fields.map((f) => f.path)).toEqual(
        ["/tags"],
      );
    }
    const ok = await patch({ tags: ["Home", " family", "home"] });
    expect(ok.status).toBe(200);
    expect((ok.body as { settings: { tags: string[] }; tags: string[] }).settings.tags).toEqual([
      "home",
      "family",
    ]);
    const list = await api("/api/v1/clients");
    expect((list.body as { clients: { tags: string[] }[] }).clients[0]?.tags).toEqual(["home", "family"]);
    // other settings leave the tags alone
    expect(((await patch({ grace: 90 })).body as { settings: { tags: string[] } }).settings.tags).toEqual([
      "home",
      "family",
    ]);
    expect(((await patch({ tags: [] })).body as { settings: { tags: string[] } }).settings.tags).toEqual([]);
  });

  test("an expectation the exit breaks turns the exit verdict yellow", async () => {
    clock.t += 1000;
    await report();
    const c = await client();
    expect(c.verdicts.exit.status).toBe("violated");
    expect((await report()).status).toBe(202);
  });
});

describe("legacy keepalive", () => {
  const post = (body: unknown, key = "legacy-key-123") =>
    fetch(`${server.url}/api/v1/keepalive`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": key },
      body: JSON.stringify(body),
    });

  test("nested form: accepted, appears as an ordinary client with DNS unknown", async () => {
    const res = await post({
      client_id: "old-router",
      public_ip: "198.51.100.9",
      location: {
        country: "BR",
        city: "São Paulo",
        region: "SP",
        org: "VPN Co",
        timezone: "America/Sao_Paulo",
      },
      dns_test: { location: "GRU", colo: "GRU" },
      client_version: "1.2.0",
      timestamp: new Date(now()).toISOString(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", message: "Keepalive received" });
    const list = (await api("/api/v1/clients")).body as {
      clients: { name: string; verdicts: { dns: { status: string } } }[];
    };
    const old = list.clients.find((c) => c.name === "old-router");
    expect(old?.verdicts.dns.status).toBe("unknown");
  });

  test("flat form with ip/provider/dns_loc, and a home address is a bypass", async () => {
    const res = await post({
      client_id: "old-nas",
      ip: "203.0.113.7",
      country: "PL",
      provider: "Home ISP",
      dns_loc: "WAW",
      dns_colo: "WAW",
    });
    expect(res.status).toBe(200);
    const list = (await api("/api/v1/clients")).body as { clients: { name: string; status: string }[] };
    expect(list.clients.find((c) => c.name === "old-nas")?.status).toBe("red");
  });

  test("wrong key → 401; missing ip → 400 naming the field", async () => {
    expect((await post({ client_id: "x", ip: "198.51.100.1" }, "wrong")).status).toBe(401);
    const bad = await post({ client_id: "x" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("/ip");
  });
});

test("DELETE removes the client; its id is then unknown", async () => {
  const store = await openServerStore(dir.path);
  const other = await enrollClient(store, loadKeyring(dir.path), "temp", "http://x", now());
  await store.close();
  expect((await api(`/api/v1/clients/${other.id}`, { method: "DELETE" })).status).toBe(204);
  expect((await api(`/api/v1/clients/${other.id}`)).status).toBe(404);
});
