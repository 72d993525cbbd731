/**
 * The claims of docs/security.md that no feature test already makes, each against the real
 * server: what a client secret, the legacy key and a viewer token cannot do, what travels on
 * the wire, what a stolen database or backup holds, and what HTTPS adds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { createUser } from "../src/server/auth/users.ts";
import { type Enrollment, enrollClient } from "../src/server/enrollment.ts";
import { startFakeDns } from "./fakes/dns.ts";
import { startFakeEcho } from "./fakes/echo.ts";
import { sentinel } from "./helpers/cli.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const PASSWORD = "Correct-Horse-Battery-Staple-9";
const LEGACY_KEY = "legacy-key-7e2b9d4c1a";
const METRICS_TOKEN = "metrics-token-5f0c3e8a";
const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let alpha: Enrollment;
let beta: Enrollment;
let admin: string;
let viewer: string;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  alpha = await enrollClient(store, keyring, "alpha", "http://x", Date.now());
  beta = await enrollClient(store, keyring, "beta", "http://x", Date.now());
  admin = (await createApiToken(store, "ops", "admin", Date.now())).token;
  viewer = (await createApiToken(store, "wall", "viewer", Date.now())).token;
  await createUser(store, { name: "admin", role: "admin", password: PASSWORD }, Date.now());
  await store.close();
  server = await startTestServer({
    dataDir: dir.path,
    legacyApiKey: LEGACY_KEY,
    metricsToken: METRICS_TOKEN,
  });
  expect((await fetch(signedPost(server.url, beta, JSON.stringify(sampleReport())))).status).toBe(202);
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const get = (path: string, headers: Record<string, string>) => fetch(`${server.url}${path}`, { headers });
const betaState = async () => {
  await server.monitor.writeHeartbeats();
  const store = await openServerStore(dir.path);
  const c = await store.clients.get(beta.id);
  await store.close();
  return JSON.stringify(c);
};

describe("a client secret", () => {
  test("signs only for its own client: alpha's secret under beta's id is refused and changes nothing", async () => {
    const before = await betaState();
    const forged = signedPost(
      server.url,
      { id: beta.id, secret: alpha.secret },
      JSON.stringify(sampleReport()),
    );
    expect((await fetch(forged)).status).toBe(401);
    expect(await betaState()).toBe(before);
  });

  test("opens no API, no export, no metrics and no dashboard", async () => {
    for (const credential of [alpha.secret, alpha.token]) {
      for (const path of ["/api/v1/clients", "/api/v1/export", "/metrics"])
        expect((await get(path, { Authorization: `Bearer ${credential}` })).status, path).toBe(401);
      const page = await fetch(`${server.url}/`, {
        redirect: "manual",
        headers: { Authorization: `Bearer ${credential}`, cookie: `sentinel_session=${credential}` },
      });
      expect(page.status).toBe(303);
      expect(page.headers.get("location")).toStartWith("/login");
    }
  });

  test("never travels after enrollment: a wiretap between the real client and the server sees only an HMAC", async () => {
    const seen: string[] = [];
    const tap = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const body = await req.text();
        const headers: string[] = [];
        req.headers.forEach((v, k) => {
          headers.push(`${k}: ${v}`);
        });
        seen.push(`${req.method} ${req.url}\n${headers.join("\n")}\n\n${body}`);
        const url = new URL(req.url);
        return fetch(`${server.url}${url.pathname}${url.search}`, {
          method: req.method,
          headers: req.headers,
          ...(req.method === "GET" ? {} : { body }),
        });
      },
    });
    const echo = startFakeEcho({ answer: "198.51.100.7" });
    const dns = await startFakeDns();
    try {
      const run = await sentinel(
        [
          "client",
          "--once",
          "--server",
          tap.url.origin,
          "--ip4-provider",
          echo.url,
          "--no-ipv6",
          "--no-whoami",
          "--dns-resolver",
          `127.0.0.1:${dns.port}`,
          "--spool-dir",
          join(dir.path, "spool"),
        ],
        { env: { SENTINEL_TOKEN: alpha.token } },
      );
      expect(run.code, run.stderr).toBe(0);
    } finally {
      tap.stop(true);
      echo.stop();
      await dns.stop();
    }
    const wire = seen.join("\n---\n");
    expect(wire).toContain("sentinel-signature: v1=");
    expect(wire).not.toContain(alpha.secret);
    expect(wire).not.toContain(alpha.token);
  });
});

describe("the legacy key", () => {
  test("opens nothing but the keepalive: no API, no export, no metrics", async () => {
    for (const path of ["/api/v1/clients", "/api/v1/export", "/metrics"]) {
      expect((await get(path, { "X-API-Key": LEGACY_KEY })).status, path).toBe(401);
      expect((await get(path, { Authorization: `Bearer ${LEGACY_KEY}` })).status, path).toBe(401);
    }
  });
});

describe("someone on the LAN", () => {
  test("/metrics holds counts only: no client name, id or address", async () => {
    const res = await get("/metrics", { Authorization: `Bearer ${METRICS_TOKEN}` });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("sentinel_clients{");
    for (const value of ["alpha", "beta", alpha.id, beta.id, "198.51.100.7", "127.0.0.1"])
      expect(text.includes(value), value).toBe(false);
  });
});

describe("a viewer token", () => {
  test("reads, but cannot change, delete, export or import anything", async () => {
    const auth = { Authorization: `Bearer ${viewer}`, "Content-Type": "application/json" };
    expect((await get("/api/v1/clients", auth)).status).toBe(200);
    const before = await betaState();
    const refused = [
      fetch(`${server.url}/api/v1/clients/${beta.id}`, {
        method: "PATCH",
        headers: auth,
        body: '{"paused":true}',
      }),
      fetch(`${server.url}/api/v1/clients/${beta.id}`, { method: "DELETE", headers: auth }),
      fetch(`${server.url}/api/v1/export`, { headers: auth }),
      fetch(`${server.url}/api/v1/import`, { method: "POST", headers: auth, body: "{}" }),
    ];
    for (const res of await Promise.all(refused)) expect(res.status).toBe(403);
    expect(await betaState()).toBe(before);
  });
});

// a SQLite file and `sentinel backup`; on PostgreSQL the same rows go through pg_dump
describe.skipIf(TEST_POSTGRES !== null)("a stolen database or backup", () => {
  test("holds no secret in clear: client secrets sealed, tokens and sessions hashed, passwords argon2id", async () => {
    // a session exists (its cookie is a secret too)
    const page = await fetch(`${server.url}/login`);
    const loginCookie = (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
    const signIn = await fetch(`${server.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ name: "admin", password: PASSWORD, _csrf: csrf }),
    });
    expect(signIn.status).toBe(303);
    const session = /=([^;]+)/.exec(signIn.headers.get("set-cookie") ?? "")?.[1] as string;
    const backupFile = join(dir.path, "..", `${dir.path.split("/").at(-1)}-backup.db`);
    const backup = await sentinel(["backup", backupFile, "--data-dir", dir.path]);
    expect(backup.code, backup.stderr).toBe(0);
    await server.monitor.writeHeartbeats();

    const serverKey = readFileSync(join(dir.path, "server.key"), "utf8").trim();
    const secrets = {
      client_secret: alpha.secret,
      enrollment_token: alpha.token,
      admin_token: admin,
      viewer_token: viewer,
      password: PASSWORD,
      session_cookie: session,
      legacy_key: LEGACY_KEY,
      metrics_token: METRICS_TOKEN,
      server_key: serverKey,
    };
    const files = {
      database: ["sentinel.db", "sentinel.db-wal"].map((f) => {
        try {
          return readFileSync(join(dir.path, f)).toString("latin1");
        } catch {
          return "";
        }
      }),
      backup: [readFileSync(backupFile).toString("latin1")],
    };
    for (const [what, contents] of Object.entries(files)) {
      const bytes = contents.join("");
      // not vacuous: the sealed secrets and the password hash are there, in their protected form
      expect(bytes, what).toContain(`v1:${loadKeyring(dir.path).currentId}:`);
      expect(bytes, what).toContain("$argon2id$");
      for (const [name, value] of Object.entries(secrets))
        expect(bytes.includes(value), `${name} in the ${what}`).toBe(false);
    }
    Bun.file(backupFile).delete();
  });
});

describe("over HTTPS", () => {
  test("the session cookie is Secure (__Host-) and every response carries HSTS, the report route too", async () => {
    const httpsDir = tempDir();
    const store = await openServerStore(httpsDir.path);
    const cred = await enrollClient(
      store,
      loadKeyring(httpsDir.path),
      "pi",
      "https://sentinel.example",
      Date.now(),
    );
    await createUser(store, { name: "admin", role: "admin", password: PASSWORD }, Date.now());
    await store.close();
    const https = await startTestServer({ dataDir: httpsDir.path, publicUrl: "https://sentinel.example" });
    try {
      const page = await fetch(`${https.url}/login`);
      const loginCookie = (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
      const signIn = await fetch(`${https.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie: loginCookie,
          origin: "https://sentinel.example",
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ name: "admin", password: PASSWORD, _csrf: csrf }),
      });
      expect(signIn.status).toBe(303);
      const cookie = signIn.headers.get("set-cookie") ?? "";
      expect(cookie).toStartWith("__Host-");
      expect(cookie).toContain("; Secure");
      const report = await fetch(signedPost(https.url, cred, JSON.stringify(sampleReport())));
      expect(report.status).toBe(202);
      for (const res of [page, signIn, report, await fetch(`${https.url}/healthz`)])
        expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000");
    } finally {
      await https.stop();
      httpsDir.remove();
    }
  });
});
