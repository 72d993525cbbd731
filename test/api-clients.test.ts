/** /api/v1/clients with bearer tokens against the real server. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let viewer: string;
let revoked: string;
let clientId: string;
let secret: string;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  const e = await enrollClient(store, loadKeyring(dir.path), "router", "http://x", Date.now());
  clientId = e.id;
  secret = e.secret;
  viewer = (await createApiToken(store, "v", "viewer", Date.now())).token;
  revoked = (await createApiToken(store, "old", "admin", Date.now())).token;
  await store.tokens.revoke("old", Date.now());
  await store.close();
  server = await startTestServer({ dataDir: dir.path });
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const get = (path: string, token?: string) =>
  fetch(`${server.url}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

test("no token, a wrong token or a revoked token → 401 with the error shape", async () => {
  for (const t of [undefined, "sst_wrong", revoked]) {
    const res = await get("/api/v1/clients", t);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  }
});

test("a viewer lists clients and sees what the last report said, never the secret", async () => {
  expect(
    (await fetch(signedPost(server.url, { id: clientId, secret }, JSON.stringify(sampleReport())))).status,
  ).toBe(202);
  const list = await get("/api/v1/clients", viewer);
  expect(list.status).toBe(200);
  const body = (await list.json()) as { clients: { id: string; name: string; last_seen: string | null }[] };
  expect(body.clients).toHaveLength(1);
  expect(body.clients[0]?.name).toBe("router");
  expect(body.clients[0]?.last_seen).not.toBeNull();

  const one = await get(`/api/v1/clients/${clientId}`, viewer);
  const detail = (await one.json()) as { last_report: { ipv4: { ip: string } } };
  expect(detail.last_report.ipv4.ip).toBe("198.51.100.7");
  expect(JSON.stringify(detail)).not.toContain(secret);
});

test("the list pages by name: limit, next_cursor, the last page says null; a bad limit is a 400", async () => {
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  for (const name of ["alpha", "Bravo", "charlie", "delta"])
    await enrollClient(store, keyring, name, "http://x", Date.now());
  await store.close();
  const page = async (q: string) =>
    (await (await get(`/api/v1/clients${q}`, viewer)).json()) as {
      clients: { name: string }[];
      next_cursor: string | null;
    };
  const names: string[] = [];
  let cursor: string | null = null;
  do {
    const p = await page(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(p.clients.length).toBeLessThanOrEqual(2);
    names.push(...p.clients.map((c) => c.name));
    cursor = p.next_cursor;
  } while (cursor);
  expect(names).toEqual(["alpha", "Bravo", "charlie", "delta", "router"]);
  expect((await page("")).next_cursor).toBeNull(); // five fit the default page
  for (const bad of ["0", "1001", "x"]) {
    const res = await get(`/api/v1/clients?limit=${bad}`, viewer);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { fields: { path: string }[] } }).error.fields[0]?.path).toBe(
      "/limit",
    );
  }
});

test("an unknown client id → 404 not_found", async () => {
  const res = await get("/api/v1/clients/c_missing", viewer);
  expect(res.status).toBe(404);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
});
