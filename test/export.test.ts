/** Export/import over the API and the CLI: what travels, that nothing is in clear, and re-sealing across server keys. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { DEFAULT_SETTINGS } from "../src/server/monitor/settings.ts";
import { sentinel } from "./helpers/cli.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { initDataDir, openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const source = tempDir();
const target = tempDir();
const PASSWORD_HASH = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
const CHANNEL_URL = "gotifys://push.example.org/AppTokenExportSecret?min=red";
let cred: Credentials;
let admin: string;
let viewer: string;
let token: string;
let server: Awaited<ReturnType<typeof startTestServer>>;
let other: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  const store = await openServerStore(source.path);
  const e = await enrollClient(store, loadKeyring(source.path), "pi", "http://x", Date.now());
  token = e.token;
  cred = { id: e.id, secret: e.secret };
  await store.clients.updateSettings(e.id, { ...DEFAULT_SETTINGS, interval_s: 60, expected_country: "SE" });
  admin = (await createApiToken(store, "ops", "admin", Date.now())).token;
  viewer = (await createApiToken(store, "view", "viewer", Date.now())).token;
  await store.auth.createUser({
    id: "u_1",
    name: "alice",
    role: "admin",
    passwordHash: PASSWORD_HASH,
    createdAt: 1,
  });
  await store.channels.create({
    id: "ch_x",
    urlSealed: loadKeyring(source.path).encrypt(CHANNEL_URL),
    display: "gotifys://push.example.org/***?min=red",
    createdAt: 2,
    updatedAt: 3,
  });
  await store.close();
  server = await startTestServer({ dataDir: source.path });
  const t = await openServerStore(await initDataDir(target.path));
  await createApiToken(t, "target-admin", "admin", Date.now());
  await t.close();
});
afterAll(async () => {
  await server.stop();
  await other?.stop();
  source.remove();
  target.remove();
});

const exportVia = (url: string, bearer: string) =>
  fetch(`${url}/api/v1/export`, { headers: { Authorization: `Bearer ${bearer}` } });

test("GET /api/v1/export needs an admin token and carries no secret in clear", async () => {
  expect((await fetch(`${server.url}/api/v1/export`)).status).toBe(401);
  expect((await exportVia(server.url, viewer)).status).toBe(403);
  const res = await exportVia(server.url, admin);
  expect(res.status).toBe(200);
  const text = await res.text();
  const doc = JSON.parse(text);
  expect(doc).toMatchObject({
    format: "vpn-sentinel-export",
    version: 1,
    server_key_id: loadKeyring(source.path).currentId,
  });
  expect(doc.clients[0]).toMatchObject({ name: "pi", policy: { interval_s: 60, expected_country: "SE" } });
  expect(doc.clients[0].secret_sealed).toStartWith(`v1:${doc.server_key_id}:`);
  expect(doc.api_tokens.map((t: { name: string }) => t.name).sort()).toEqual(["ops", "view"]);
  expect(doc.users).toEqual([
    { id: "u_1", name: "alice", role: "admin", password_hash: PASSWORD_HASH, created_at: 1 },
  ]);
  expect(doc.notify_channels).toEqual([
    {
      id: "ch_x",
      url_sealed: expect.stringMatching(new RegExp(`^v1:${doc.server_key_id}:`)),
      url: "gotifys://push.example.org/***?min=red",
      created_at: 2,
      updated_at: 3,
    },
  ]);
  for (const secret of [cred.secret, token, token.slice(4), admin, viewer, "AppTokenExportSecret"])
    expect(text.includes(secret)).toBe(false);
});

test("import into a server with another key: refused without the source key, re-sealed with it; the client keeps its token", async () => {
  const doc = await (await exportVia(server.url, admin)).text();
  const file = join(target.path, "export.json");
  await Bun.write(file, doc);

  const refused = await sentinel(["import", file, "--data-dir", target.path]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain("does not hold");
  const t = await openServerStore(target.path);
  expect(await t.clients.list()).toHaveLength(0); // nothing half-imported
  await t.close();

  const ok = await sentinel([
    "import",
    file,
    "--data-dir",
    target.path,
    "--source-key-file",
    join(source.path, "server.key"),
    "--json",
  ]);
  expect(ok.code, ok.stderr).toBe(0);
  expect(JSON.parse(ok.stdout)).toEqual({
    created: { clients: 1, api_tokens: 2, users: 1, notify_channels: 1 },
    skipped: { clients: [], api_tokens: [], users: [], notify_channels: [] },
    resealed: 2,
  });
  const store = await openServerStore(target.path);
  const c = await store.clients.getByName("pi");
  expect(c?.secretEnc).toStartWith(`v1:${loadKeyring(target.path).currentId}:`);
  expect(c?.settings).toEqual({ ...DEFAULT_SETTINGS, interval_s: 60, expected_country: "SE" });
  expect((await store.auth.getUserByName("alice"))?.passwordHash).toBe(PASSWORD_HASH);
  const channel = await store.channels.get("ch_x");
  expect(channel?.urlSealed).toStartWith(`v1:${loadKeyring(target.path).currentId}:`);
  expect(loadKeyring(target.path).decrypt(channel?.urlSealed ?? "")).toBe(CHANNEL_URL);
  await store.close();

  other = await startTestServer({ dataDir: target.path });
  expect((await fetch(signedPost(other.url, cred, JSON.stringify(sampleReport())))).status).toBe(202);
  // the imported admin token works there too
  expect(
    (await fetch(`${other.url}/api/v1/clients`, { headers: { Authorization: `Bearer ${admin}` } })).status,
  ).toBe(200);

  // importing again over the API changes nothing and says what it kept
  const again = await fetch(`${other.url}/api/v1/import`, {
    method: "POST",
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: doc,
  });
  expect(again.status).toBe(200);
  expect(await again.json()).toMatchObject({
    created: { clients: 0, api_tokens: 0, users: 0, notify_channels: 0 },
    skipped: {
      clients: ["pi"],
      users: ["alice"],
      notify_channels: ["gotifys://push.example.org/***?min=red"],
    },
  });
});

test("POST /api/v1/import refuses other documents and keys it cannot open, with the error shape", async () => {
  const post = (body: string) =>
    fetch(`${server.url}/api/v1/import`, {
      method: "POST",
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
      body,
    });
  const bad = await post(JSON.stringify({ format: "something-else" }));
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_export");
  const wrongShape = await post(
    JSON.stringify({ format: "vpn-sentinel-export", version: 1, clients: [{ name: "x" }] }),
  );
  expect(wrongShape.status).toBe(400);
  const foreign = {
    format: "vpn-sentinel-export",
    version: 1,
    exported_at: new Date().toISOString(),
    server_key_id: "deadbeef",
    clients: [
      {
        id: "c_new",
        name: "new",
        created_at: 1,
        policy: {},
        secret_sealed: "v1:deadbeef:AAAA",
        previous_secret_sealed: null,
        previous_secret_until: null,
      },
    ],
    api_tokens: [],
    users: [],
  };
  const mismatch = await post(JSON.stringify(foreign));
  expect(mismatch.status).toBe(409);
  expect(((await mismatch.json()) as { error: { code: string } }).error.code).toBe("server_key_mismatch");
  // a key held as server.key.previous is enough (the documented migration path)
  const fresh = tempDir();
  await initDataDir(fresh.path);
  copyFileSync(join(source.path, "server.key"), join(fresh.path, "server.key.previous"));
  const exported = await (await exportVia(server.url, admin)).text();
  const viaPrevious = await sentinel(["import", "-", "--data-dir", fresh.path, "--json"], {
    stdin: exported,
  });
  expect(viaPrevious.code, viaPrevious.stderr).toBe(0);
  expect(JSON.parse(viaPrevious.stdout).resealed).toBe(2); // the client secret and the channel URL
  fresh.remove();
});
