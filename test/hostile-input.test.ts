/**
 * Odd paths, post-login targets and import documents over real HTTP: each is a 4xx or a safe
 * redirect, never a 5xx. A post-login target survives only as a same-origin path of plain URL
 * characters; anything else sends the user to "/".
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { isImportablePasswordHash } from "../src/server/api/export/service.ts";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { safeNext } from "../src/server/web/guard.ts";
import { buildWebApp, PASSWORD, type WebApp } from "./web-helpers.ts";

let w: WebApp;
let admin: string;

beforeAll(async () => {
  w = await buildWebApp();
  admin = (await createApiToken(w.store, "ops", "admin", Date.now())).token;
});
afterAll(() => w.close());

const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

/** Signs in with a raw, already-encoded `next` form field, as a browser would post it. */
async function loginWithNext(encodedNext: string): Promise<Response> {
  const page = await w.handle("/login");
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
  const form = `${new URLSearchParams({ _csrf: csrf, name: "admin", password: PASSWORD })}&next=${encodedNext}`;
  return w.handle("/login", {
    method: "POST",
    headers: { cookie: cookieOf(page), "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
}

let session = "";
async function signedInGet(path: string): Promise<Response> {
  if (!session) session = cookieOf(await loginWithNext("%2F"));
  return w.handle(path, { headers: { cookie: session } });
}

test("GET /c/%25 (a name that decodes to a lone %) is a 404, not a 500", async () => {
  const res = await signedInGet("/c/%25");
  expect(res.status).toBe(404);
  // and a name with an encoded percent sign still finds nothing worse than 404
  expect((await signedInGet("/c/%25E0%25A4%25A")).status).toBe(404);
});

test("post-login targets: hostile ones go to /, plain same-origin paths survive", async () => {
  // as posted by curl -d (raw) or a browser (encoded): NUL, NEL and non-ASCII decode into the value
  for (const next of [
    "/Ā",
    "/%00/x",
    "/%C2%85/evil.example",
    "%2F%C4%80",
    "%2F%0D%0Aevil",
    "/%09/evil.example",
  ]) {
    const res = await loginWithNext(next);
    expect(res.status, next).toBe(303);
    expect(res.headers.get("location"), next).toBe("/");
  }
  for (const next of ["//evil.example", "/\\evil.example", "https://evil.example/", "/login?next=/x"]) {
    const res = await loginWithNext(encodeURIComponent(next));
    expect(res.headers.get("location"), next).toBe("/");
  }
  const kept = await loginWithNext(encodeURIComponent("/clients/c_1?tab=events"));
  expect(kept.headers.get("location")).toBe("/clients/c_1?tab=events");
});

const SAFE_PATH = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/?%#]*$/;

test("any post-login target becomes a same-origin path of safe characters", async () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.webPath(), fc.webUrl(), fc.string({ unit: "binary" }), fc.jsonValue()),
      (raw) => {
        const next = safeNext(raw);
        expect(next).toMatch(SAFE_PATH);
        expect(next === "/" || next === raw).toBe(true);
        // a browser resolves it to this server, whatever follows the first slash
        expect(new URL(next, "http://sentinel.test").origin).toBe("http://sentinel.test");
      },
    ),
    { numRuns: 5000 },
  );
});

test("the sign-in page keeps only a safe target in its hidden field, whatever ?next= says", async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.webPath()), async (raw) => {
      const res = await w.handle(`/login?next=${encodeURIComponent(raw)}`);
      expect(res.status).toBe(200);
      const value = /name="next" value="([^"]*)"/.exec(await res.text())?.[1] ?? "";
      expect(value.replaceAll("&amp;", "&").replaceAll("&#39;", "'")).toMatch(SAFE_PATH);
    }),
    { numRuns: 200 },
  );
});

test("odd paths never cause a 5xx, signed in or not", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.webPath(),
        fc.string().map((s) => `/c/${encodeURIComponent(s)}`),
        fc.string().map((s) => `/clients/${encodeURIComponent(s)}`),
        fc
          .array(fc.constantFrom("%", "%25", "%2", "%C0", "%FF", "%00", "..", "/", "c", "clients", "Ā", "?"))
          .map((parts) => `/${parts.join("")}`),
      ),
      fc.boolean(),
      async (path, signedIn) => {
        const res = signedIn ? await signedInGet(path) : await w.handle(path);
        expect(res.status, path).toBeLessThan(500);
      },
    ),
    { numRuns: 300 },
  );
});

test("POST /api/v1/import: a user whose password_hash is not an argon2 hash is a 400 with the field path", async () => {
  const doc = {
    format: "vpn-sentinel-export",
    version: 1,
    exported_at: new Date().toISOString(),
    server_key_id: "00000000",
    clients: [],
    api_tokens: [],
    users: [{ id: "u_ok", name: "kept-out", role: "admin", password_hash: "not-a-hash", created_at: 1 }],
  };
  const res = await w.handle("/api/v1/import", {
    method: "POST",
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: JSON.stringify(doc),
  });
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; fields?: { path: string }[] } };
  expect(body.error.code).toBe("invalid_export");
  expect(body.error.fields?.map((f) => f.path)).toEqual(["/users/0/password_hash"]);
  // nothing was imported
  expect(await w.store.auth.getUserByName("kept-out")).toBeNull();
});

test("every password hash the import accepts is one Bun can verify (no 500 at sign-in)", async () => {
  const b64 = (min: number, max: number) =>
    fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b).toString("base64"));
  const phc = (o: {
    alg: fc.Arbitrary<string>;
    v: fc.Arbitrary<string>;
    m: fc.Arbitrary<number>;
    t: fc.Arbitrary<number>;
    p: fc.Arbitrary<number>;
    salt: fc.Arbitrary<string>;
    hash: fc.Arbitrary<string>;
    pad: fc.Arbitrary<boolean>;
  }) =>
    fc
      .tuple(o.alg, o.v, o.m, o.t, o.p, o.salt, o.hash, o.pad)
      .map(
        ([alg, v, m, t, p, salt, h, pad]) =>
          `$${alg}$${v ? `${v}$` : ""}m=${m},t=${t},p=${p}$${pad ? salt : salt.replace(/=+$/, "")}$${h.replace(/=+$/, "")}`,
      );
  // near our own hashes (all of these must be accepted), and anything around them
  const plausible = phc({
    alg: fc.constantFrom("argon2id", "argon2i", "argon2d"),
    v: fc.constant("v=19"),
    m: fc.integer({ min: 1024, max: 4096 }),
    t: fc.integer({ min: 1, max: 3 }),
    p: fc.integer({ min: 1, max: 4 }),
    salt: b64(8, 48),
    hash: b64(4, 64),
    pad: fc.constant(false),
  });
  const odd = phc({
    alg: fc.constantFrom("argon2id", "argon2x", "2b", ""),
    v: fc.constantFrom("v=19", "v=16", ""),
    m: fc.integer({ min: 0, max: 300_000 }),
    t: fc.integer({ min: 0, max: 12 }),
    p: fc.integer({ min: 0, max: 17 }),
    salt: b64(0, 70),
    hash: b64(0, 70),
    pad: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(plausible, async (h) => {
      expect(isImportablePasswordHash(h)).toBe(true);
      expect(await Bun.password.verify("a guess", h)).toBe(false);
    }),
    { numRuns: 100 },
  );
  await fc.assert(
    fc.asyncProperty(odd, async (h) => {
      // the cheap shape check agrees with Bun's own parser: what it lets through, Bun can verify
      if (isImportablePasswordHash(h) && Number(/m=(\d+)/.exec(h)?.[1]) <= 8192)
        expect(await Bun.password.verify("a guess", h)).toBe(false);
    }),
    { numRuns: 300 },
  );
});
