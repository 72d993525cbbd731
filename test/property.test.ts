/**
 * Property test: thousands of random bodies and headers at the real report endpoint.
 * Whatever arrives, the answer is a 2xx/4xx in the one error shape, never a 5xx.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: { id: string; secret: string };

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  const e = await enrollClient(store, loadKeyring(dir.path), "fuzz", "http://x", Date.now());
  await store.close();
  cred = { id: e.id, secret: e.secret };
  server = await startTestServer({ dataDir: dir.path });
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

async function expectNo5xx(res: Response) {
  const text = await res.text();
  if (res.status >= 500) throw new Error(`${res.status}: ${text}`);
  if (res.status >= 400) expect(JSON.parse(text).error.code).toBeString();
}

// Mutations of a valid report: every field replaced by arbitrary JSON, so the validator sees
// near-valid shapes, not only garbage.
const mutatedReport = fc
  .tuple(
    fc.constantFrom(...Object.keys(sampleReport())),
    fc.jsonValue(),
    fc.constantFrom("ipv4", "ipv6", "dns", "agent"),
  )
  .map(([key, value, nested]) => {
    const r: Record<string, unknown> = { ...sampleReport() };
    r[key] = value;
    if (typeof r[nested] === "object" && r[nested] !== null && !Array.isArray(r[nested]))
      r[nested] = { ...(r[nested] as object), ip: value, answers: [value] };
    return JSON.stringify(r);
  });

test("signed random bodies never cause a 5xx", async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutatedReport, fc.json(), fc.string({ maxLength: 300 })), async (body) => {
      await expectNo5xx(await fetch(signedPost(server.url, cred, body)));
    }),
    { numRuns: 1500 },
  );
});

test("random headers and bodies never cause a 5xx", async () => {
  const headerValue = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constant(""),
    fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        client: fc.oneof(fc.constant(cred.id), headerValue),
        ts: fc.oneof(fc.integer().map(String), headerValue),
        nonce: headerValue,
        sig: fc.oneof(
          fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `v1=${h}`),
          headerValue,
        ),
        type: fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", ""),
        body: fc.oneof(fc.json(), fc.string({ maxLength: 200 })),
      }),
      async (h) => {
        const headers = new Headers();
        const set = (k: string, v: string) => {
          try {
            headers.set(k, v);
          } catch {
            // a value fetch itself refuses to send cannot reach the server either
          }
        };
        set("Sentinel-Client", h.client);
        set("Sentinel-Timestamp", h.ts);
        set("Sentinel-Nonce", h.nonce);
        set("Sentinel-Signature", h.sig);
        if (h.type) set("Content-Type", h.type);
        await expectNo5xx(
          await fetch(`${server.url}/api/v1/reports`, { method: "POST", headers, body: h.body }),
        );
      },
    ),
    { numRuns: 1500 },
  );
});
