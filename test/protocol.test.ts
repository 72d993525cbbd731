/**
 * Report protocol v1 against the real server over HTTP: each row is one way a request can be
 * wrong, with its exact status and error code.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { computeSignature, newNonce, signRequest } from "../src/protocol/signing.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: Credentials;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  const e = await enrollClient(store, loadKeyring(dir.path), "proto", "http://x", Date.now());
  await store.close();
  cred = { id: e.id, secret: e.secret };
  server = await startTestServer({ dataDir: dir.path });
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const body = () => JSON.stringify(sampleReport());
const nowS = () => Math.floor(Date.now() / 1000);

type Case = [name: string, make: () => Request, status: number, code: string | null];

const bytes = (text: string) => Buffer.from(text, "utf8");

/** A report whose sent bytes and timestamp header may differ from what was signed. */
function rawSigned(o: { sent?: Buffer; signed?: Buffer; sentTs?: string; signedTs?: string }): Request {
  const sent = o.sent ?? bytes(body());
  const sentTs = o.sentTs ?? String(nowS());
  const nonce = newNonce();
  const signature = computeSignature(cred.secret, cred.id, o.signedTs ?? sentTs, nonce, o.signed ?? sent);
  return new Request(`${server.url}/api/v1/reports`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Sentinel-Client": cred.id,
      "Sentinel-Timestamp": sentTs,
      "Sentinel-Nonce": nonce,
      "Sentinel-Signature": `v1=${signature}`,
    },
    body: new Uint8Array(sent),
  });
}

const cases: Case[] = [
  ["valid", () => signedPost(server.url, cred, body()), 202, null],
  [
    "tampered body",
    () => {
      const b = body();
      const r = signedPost(server.url, cred, b);
      return new Request(r, { body: b.replace("198.51.100.7", "198.51.100.8") });
    },
    401,
    "unauthorized",
  ],
  [
    "wrong secret",
    () => signedPost(server.url, { id: cred.id, secret: "not-the-secret" }, body()),
    401,
    "unauthorized",
  ],
  [
    "timestamp 301 s old",
    () => signedPost(server.url, cred, body(), { nowS: nowS() - 301 }),
    401,
    "unauthorized",
  ],
  [
    "timestamp 301 s in the future",
    () => signedPost(server.url, cred, body(), { nowS: nowS() + 301 }),
    401,
    "unauthorized",
  ],
  [
    "timestamp 290 s old is still fine",
    () => signedPost(server.url, cred, body(), { nowS: nowS() - 290 }),
    202,
    null,
  ],
  [
    "unknown client",
    () => signedPost(server.url, { id: "c_nobody", secret: cred.secret }, body()),
    401,
    "unauthorized",
  ],
  [
    "missing signature",
    () => signedPost(server.url, cred, body(), { headers: { "Sentinel-Signature": null } }),
    401,
    "unauthorized",
  ],
  [
    "missing nonce",
    () => signedPost(server.url, cred, body(), { headers: { "Sentinel-Nonce": null } }),
    401,
    "unauthorized",
  ],
  [
    "missing client",
    () => signedPost(server.url, cred, body(), { headers: { "Sentinel-Client": null } }),
    401,
    "unauthorized",
  ],
  [
    "short nonce",
    () => signedPost(server.url, cred, body(), { headers: { "Sentinel-Nonce": "abc" } }),
    401,
    "unauthorized",
  ],
  [
    "uppercase hex signature",
    () => {
      const r = signedPost(server.url, cred, body());
      const h = new Headers(r.headers);
      h.set(
        "Sentinel-Signature",
        (h.get("Sentinel-Signature") as string).toUpperCase().replace("V1=", "v1="),
      );
      return new Request(r, { headers: h });
    },
    401,
    "unauthorized",
  ],
  [
    "65 KiB body",
    () => signedPost(server.url, cred, JSON.stringify({ ...sampleReport(), pad: "x".repeat(65 * 1024) })),
    413,
    "payload_too_large",
  ],
  ["malformed JSON", () => signedPost(server.url, cred, '{"v":1,'), 400, "invalid_json"],
  [
    "wrong types",
    () =>
      signedPost(server.url, cred, JSON.stringify({ ...sampleReport(), interval_s: "30", ipv4: { ip: 7 } })),
    400,
    "validation_failed",
  ],
  [
    "dns_pending that is not a boolean",
    () => signedPost(server.url, cred, JSON.stringify({ ...sampleReport(), dns_pending: "yes" })),
    400,
    "validation_failed",
  ],
  [
    "dns_pending in a report that carries DNS observations",
    () => signedPost(server.url, cred, JSON.stringify({ ...sampleReport(), dns_pending: true })),
    400,
    "validation_failed",
  ],
  [
    "dns_pending without DNS observations",
    () => signedPost(server.url, cred, JSON.stringify({ ...sampleReport(), dns_pending: true, dns: [] })),
    202,
    null,
  ],
  [
    "wrong version",
    () => signedPost(server.url, cred, JSON.stringify({ ...sampleReport(), v: 2 })),
    400,
    "validation_failed",
  ],
  [
    "wrong content type",
    () => signedPost(server.url, cred, body(), { headers: { "Content-Type": "text/plain" } }),
    415,
    "unsupported_media_type",
  ],
  // Sign exactly what is sent: the timestamp header and the body bytes as they travel, with no
  // normalisation before the check (a leading zero, a byte-order mark).
  [
    "timestamp with a leading zero the signature does not cover",
    () => rawSigned({ sentTs: `0${nowS()}`, signedTs: String(nowS()) }),
    401,
    "unauthorized",
  ],
  ["timestamp with a leading zero, signed as sent", () => rawSigned({ sentTs: `0${nowS()}` }), 202, null],
  [
    "body with a byte-order mark the signature does not cover",
    () => rawSigned({ sent: bytes(`\uFEFF${body()}`), signed: bytes(body()) }),
    401,
    "unauthorized",
  ],
  [
    "body with a byte-order mark, signed as sent",
    () => rawSigned({ sent: bytes(`\uFEFF${body()}`) }),
    202,
    null,
  ],
  [
    "body that is not UTF-8, signed as sent",
    () => rawSigned({ sent: Buffer.concat([bytes(body().slice(0, -1)), Buffer.from([0xff, 0x7d])]) }),
    400,
    "invalid_json",
  ],
  [
    "unknown fields are ignored",
    () => signedPost(server.url, cred, JSON.stringify({ ...sampleReport(), future: { x: 1 } })),
    202,
    null,
  ],
];

describe("POST /api/v1/reports", () => {
  for (const [name, make, status, code] of cases) {
    test(`${name} → ${status}${code ? ` ${code}` : ""}`, async () => {
      const res = await fetch(make());
      const json = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(status);
      if (code) expect((json.error as { code: string }).code).toBe(code);
      else {
        expect(json.accepted).toBe(true);
        expect(typeof json.server_time).toBe("string");
        expect(json.next_report_in_s).toBe(30);
        expect(json.features).toEqual(["dns_pending"]);
      }
      // never echo the input or a secret back
      expect(JSON.stringify(json)).not.toContain(cred.secret);
      expect(JSON.stringify(json)).not.toContain("198.51.100.8");
    });
  }

  test("validation errors name the field paths", async () => {
    const res = await fetch(
      signedPost(
        server.url,
        cred,
        JSON.stringify({ ...sampleReport(), ipv4: { ip: "999.1.1.1", answers: [] } }),
      ),
    );
    const json = (await res.json()) as { error: { fields: { path: string }[] } };
    expect(res.status).toBe(400);
    expect(json.error.fields.map((f) => f.path)).toContain("/ipv4/ip");
    expect(JSON.stringify(json)).not.toContain("999.1.1.1");
  });

  test("the signature covers client, timestamp, nonce and raw body exactly", () => {
    // HMAC-SHA256(s3cret, "c_1.1700000000.nonce-nonce-nonce-1.{}"), from Python's hmac module
    expect(computeSignature("s3cret", "c_1", "1700000000", "nonce-nonce-nonce-1", "{}")).toBe(
      "7c867353136552d382e8a4b5d849360d6913d7d77bc2eddd078f83a943dfa205",
    );
  });

  test("a replayed nonce is refused, also after a server restart", async () => {
    const b = body();
    const headers = signRequest(cred.id, cred.secret, b);
    const send = () => fetch(`${server.url}/api/v1/reports`, { method: "POST", headers, body: b });
    expect((await send()).status).toBe(202);
    const again = await send();
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("unauthorized");

    await server.stop();
    server = await startTestServer({ dataDir: dir.path });
    const afterRestart = await fetch(`${server.url}/api/v1/reports`, { method: "POST", headers, body: b });
    expect(afterRestart.status).toBe(401);
    expect((await fetch(signedPost(server.url, cred, body()))).status).toBe(202);
  });

  test("a chunked body over 64 KiB is cut off with 413", async () => {
    const big = JSON.stringify({ ...sampleReport(), pad: "y".repeat(70 * 1024) });
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < big.length; i += 8192)
          c.enqueue(new TextEncoder().encode(big.slice(i, i + 8192)));
        c.close();
      },
    });
    const res = await fetch(`${server.url}/api/v1/reports`, {
      method: "POST",
      headers: signRequest(cred.id, cred.secret, big),
      body: stream,
    });
    expect(res.status).toBe(413);
  });
});

describe("other unauthenticated endpoints", () => {
  test("whoami echoes the caller's address", async () => {
    const res = await fetch(`${server.url}/api/v1/whoami`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ip: "127.0.0.1" });
  });

  test("healthz and readyz", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe("ready");
  });

  test("unknown routes get the JSON error shape", async () => {
    const res = await fetch(`${server.url}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  test("request ids are echoed or created", async () => {
    const given = await fetch(`${server.url}/healthz`, { headers: { "X-Request-Id": "abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const made = await Promise.all([fetch(`${server.url}/healthz`), fetch(`${server.url}/healthz`)]);
    const ids = made.map((r) => r.headers.get("x-request-id") ?? "");
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-z]+$/);
    expect(ids[0]).not.toBe(ids[1] as string);
    // the hot report path makes its own
    const report = await fetch(signedPost(server.url, cred, JSON.stringify(sampleReport())));
    expect(report.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-z]+$/);
  });
});

test("a 202 says what the server concluded, on a full judgement and on the fast path alike", async () => {
  const home = tempDir();
  const store = await openServerStore(home.path);
  const e = await enrollClient(store, loadKeyring(home.path), "leaky", "http://x", Date.now());
  await store.close();
  // the sample report exits at 198.51.100.7: with that as home, traffic bypasses the VPN
  const s = await startTestServer({ dataDir: home.path, homeIp: ["198.51.100.7"] });
  try {
    const answers = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(signedPost(s.url, { id: e.id, secret: e.secret }, body()));
      expect(res.status).toBe(202);
      answers.push((await res.json()) as { status: string; reasons: string[] });
    }
    const [first, second] = answers;
    expect(first?.status).toBe("red");
    // the red causes only, one sentence each
    expect(first?.reasons).toEqual([expect.stringMatching(/^Traffic bypasses the VPN: /)]);
    expect(second).toMatchObject({ status: first?.status, reasons: first?.reasons });
    const check = await openServerStore(home.path);
    expect((await check.clients.get(e.id))?.status).toBe("red");
    await check.close();
  } finally {
    await s.stop();
    home.remove();
  }
});
