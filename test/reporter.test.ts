/**
 * The POSIX sh reporter (contrib/sentinel-report.sh) and the shell example in docs/protocol.md,
 * run with `sh` against the real server and local fakes (never a real provider).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { type FakeDns, startFakeDns } from "./fakes/dns.ts";
import { type FakeEcho, startFakeEcho } from "./fakes/echo.ts";
import { run } from "./helpers/cli.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const ROOT = join(import.meta.dir, "..");
const SCRIPT = join(ROOT, "contrib/sentinel-report.sh");
const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let echoA: FakeEcho;
let echoB: FakeEcho;
let dns: FakeDns;
let viewer: string;
const clients: Record<string, { id: string; secret: string; token: string }> = {};

beforeAll(async () => {
  echoA = startFakeEcho({ answer: "203.0.113.50" });
  echoB = startFakeEcho({ answer: "203.0.113.50" });
  dns = await startFakeDns();
  server = await startTestServer({ dataDir: dir.path });
  const store = await openServerStore(dir.path);
  for (const name of ["router-curl", "router-wget", "router-env", "doc-example"])
    clients[name] = await enrollClient(store, loadKeyring(dir.path), name, server.url, Date.now());
  viewer = (await createApiToken(store, "v", "viewer", Date.now())).token;
  await store.close();
});
afterAll(async () => {
  await server.stop();
  echoA.stop();
  echoB.stop();
  await dns.stop();
  dir.remove();
});

const sh = (args: string[], env: Record<string, string>) => run(["sh", ...args], { env });

async function lastReport(id: string) {
  const res = await fetch(`${server.url}/api/v1/clients/${id}`, {
    headers: { Authorization: `Bearer ${viewer}` },
  });
  return (await res.json()) as { last_seen: string | null; exit: { ipv4: { ip: string } | null } | null };
}

describe("contrib/sentinel-report.sh", () => {
  const base = () => ({
    SENTINEL_IP4_PROVIDERS: `${echoA.url} ${echoB.url}`,
    SENTINEL_DNS_RESOLVER: "127.0.0.1",
    SENTINEL_DNS_PORT: String(dns.port),
    SENTINEL_TIMEOUT: "5",
  });

  for (const http of ["curl", "wget"] as const)
    test(`with a token and ${http}: 202, and the server shows the client's exit`, async () => {
      const c = clients[`router-${http}`] as { id: string; token: string };
      const hitsBefore = echoA.hits;
      const r = await sh([SCRIPT], { ...base(), SENTINEL_TOKEN: c.token, SENTINEL_HTTP: http });
      expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toStartWith("HTTP 202");
      expect(echoA.hits).toBe(hitsBefore + 1);
      expect(dns.queries.some((q) => q.name === "whoami.akamai.net")).toBe(true);
      const client = await lastReport(c.id);
      expect(client.last_seen).toBeString();
      expect(client.exit?.ipv4?.ip).toBe("203.0.113.50");
    });

  test("with SENTINEL_SERVER/ID/SECRET, and a wrong secret is refused with exit 1", async () => {
    const c = clients["router-env"] as { id: string; secret: string };
    const env = { ...base(), SENTINEL_SERVER: server.url, SENTINEL_ID: c.id, SENTINEL_DNS_PROBE: "off" };
    const ok = await sh([SCRIPT], { ...env, SENTINEL_SECRET: c.secret });
    expect(ok.code, ok.stderr).toBe(0);
    const bad = await sh([SCRIPT], { ...env, SENTINEL_SECRET: "wrong" });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toStartWith("HTTP 401");
  });

  test("providers that disagree are reported as such; a damaged token is a clear error", async () => {
    const odd = startFakeEcho({ answer: "198.51.100.99" });
    const c = clients["router-env"] as { id: string; secret: string };
    const r = await sh([SCRIPT], {
      ...base(),
      SENTINEL_IP4_PROVIDERS: `${echoA.url} ${odd.url}`,
      SENTINEL_SERVER: server.url,
      SENTINEL_ID: c.id,
      SENTINEL_SECRET: c.secret,
    });
    odd.stop();
    expect(r.code, r.stderr).toBe(0);
    const store = await openServerStore(dir.path);
    const last = (await store.clients.get(c.id))?.lastReport as {
      ipv4: { ip: string | null; consistent: boolean };
    };
    await store.close();
    expect(last.ipv4).toMatchObject({ ip: null, consistent: false });
    const damaged = await sh([SCRIPT], { SENTINEL_TOKEN: "st1.%%%%" });
    expect(damaged.code).toBe(2);
    expect(damaged.stderr).toContain("damaged");
  });
});

test("the shell example in docs/protocol.md works against the server", async () => {
  const doc = await Bun.file(join(ROOT, "docs/protocol.md")).text();
  const section = doc.slice(doc.indexOf("## A minimal client in POSIX sh"));
  const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  expect(script).toContain("openssl dgst -sha256 -hmac");
  // the example asks a public provider; here it asks a local fake instead
  const local = (script as string).replace(/https:\/\/api\.ipify\.org/g, echoA.url);
  expect(local).not.toContain("https://");
  const file = join(dir.path, "example.sh");
  await Bun.write(file, local);
  const c = clients["doc-example"] as { id: string; secret: string };
  const r = await sh([file], { SERVER: server.url, ID: c.id, SECRET: c.secret });
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ accepted: true });
  expect((await lastReport(c.id)).exit?.ipv4?.ip).toBe("203.0.113.50");
});
