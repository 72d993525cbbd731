/**
 * What every response of the real server carries, over real HTTP (Bun.serve, not app.handle):
 * the security headers and a request id, also on the paths Bun.serve routes past the app
 * (reports, keepalive) and on bodies over 1 MiB, which get our JSON error shape instead of
 * Bun's own empty 413.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { securityHeaders } from "../src/server/auth/headers.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: Credentials;
let admin: string;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  cred = await enrollClient(store, loadKeyring(dir.path), "pi", "http://x", Date.now());
  admin = (await createApiToken(store, "ops", "admin", Date.now())).token;
  await store.close();
  server = await startTestServer({ dataDir: dir.path, legacyApiKey: "legacy-key-0d1f" });
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

function expectEnvelope(res: Response, what: string) {
  for (const [name, value] of Object.entries(securityHeaders(false)))
    expect(res.headers.get(name), `${name} on ${what}`).toBe(value);
  expect(res.headers.get("x-request-id"), `x-request-id on ${what}`).toBeString();
}

async function expectJsonError(res: Response, status: number, code: string, what: string) {
  expect(res.status, what).toBe(status);
  expect(res.headers.get("content-type"), what).toStartWith("application/json");
  expect(((await res.json()) as { error: { code: string } }).error.code, what).toBe(code);
  expectEnvelope(res, what);
}

test("the report and keepalive routes (served outside the app) carry the security headers", async () => {
  const body = JSON.stringify(sampleReport());
  const accepted = await fetch(signedPost(server.url, cred, body));
  expect(accepted.status).toBe(202);
  expectEnvelope(accepted, "202 report");
  await expectJsonError(
    await fetch(signedPost(server.url, { id: cred.id, secret: "wrong" }, body)),
    401,
    "unauthorized",
    "401 report",
  );
  await expectJsonError(
    await fetch(signedPost(server.url, cred, JSON.stringify({ pad: "x".repeat(70_000) }))),
    413,
    "payload_too_large",
    "413 report",
  );
  const keepalive = (key: string) =>
    fetch(`${server.url}/api/v1/keepalive`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": key },
      body: JSON.stringify({ client_id: "old", ip: "198.51.100.9" }),
    });
  const ok = await keepalive("legacy-key-0d1f");
  expect(ok.status).toBe(200);
  expectEnvelope(ok, "200 keepalive");
  await expectJsonError(await keepalive("wrong"), 401, "unauthorized", "401 keepalive");
});

test("a body over 1 MiB is our JSON 413 with the headers, on every path, declared or chunked", async () => {
  const big = "x".repeat((1 << 20) + 1);
  const chunked = () =>
    new ReadableStream({
      start(c) {
        for (let i = 0; i < big.length; i += 64 * 1024)
          c.enqueue(new TextEncoder().encode(big.slice(i, i + 64 * 1024)));
        c.close();
      },
    });
  const targets: [string, Record<string, string>][] = [
    ["/api/v1/reports", { "Content-Type": "application/json" }],
    ["/api/v1/keepalive", { "Content-Type": "application/json", "X-API-Key": "legacy-key-0d1f" }],
    ["/api/v1/import", { "Content-Type": "application/json", Authorization: `Bearer ${admin}` }],
    ["/login", { "Content-Type": "application/x-www-form-urlencoded" }],
    ["/no-such-path", { "Content-Type": "text/plain" }],
  ];
  for (const [path, headers] of targets) {
    await expectJsonError(
      await fetch(`${server.url}${path}`, { method: "POST", headers, body: big }),
      413,
      "payload_too_large",
      `${path} with Content-Length`,
    );
    await expectJsonError(
      await fetch(`${server.url}${path}`, { method: "POST", headers, body: chunked() }),
      413,
      "payload_too_large",
      `${path} chunked`,
    );
  }
  // the server is fine afterwards
  expect((await fetch(signedPost(server.url, cred, JSON.stringify(sampleReport())))).status).toBe(202);
});

test("a chunked form body under the limit still reaches the app intact", async () => {
  const form = new URLSearchParams({ name: "nobody", password: "x".repeat(100), _csrf: "t" }).toString();
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: server.url },
    body: new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(form));
        c.close();
      },
    }),
  });
  // parsed as a form: the CSRF check answers (403 with the sign-in page), not a parse error
  expect(res.status).toBe(403);
  expect(await res.text()).toContain("sign-in form expired");
  expectEnvelope(res, "chunked login");
});
