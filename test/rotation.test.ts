/** Key rotation end to end: a client's secret (with a grace period) and the server key. */
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { createKeyring, loadKeyring, parseServerKey } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { sentinel } from "./helpers/cli.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dirs: ReturnType<typeof tempDir>[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});
const newDir = () => {
  const d = tempDir();
  dirs.push(d);
  return d.path;
};
const report = (url: string, c: Credentials) =>
  fetch(signedPost(url, c, JSON.stringify(sampleReport()))).then((r) => r.status);

test("clients rotate --grace: old and new secret work during the grace, then only the new one; the API shows rotation_pending", async () => {
  const dataDir = newDir();
  const store = await openServerStore(dataDir);
  const e = await enrollClient(store, loadKeyring(dataDir), "pi", "http://x", Date.now());
  const viewer = (await createApiToken(store, "v", "viewer", Date.now())).token;
  await store.close();
  const old: Credentials = { id: e.id, secret: e.secret };
  const server = await startTestServer({ dataDir });
  const pending = async () => {
    const res = await fetch(`${server.url}/api/v1/clients/${e.id}`, {
      headers: { Authorization: `Bearer ${viewer}` },
    });
    return ((await res.json()) as { rotation_pending: boolean }).rotation_pending;
  };
  expect(await report(server.url, old)).toBe(202);
  expect(await pending()).toBe(false);

  // rotated by the CLI in another process while the server runs
  const r = await sentinel(["clients", "rotate", "pi", "--grace", "2s", "--data-dir", dataDir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const fresh: Credentials = { id: e.id, secret: JSON.parse(r.stdout).secret };
  expect(fresh.secret).not.toBe(old.secret);
  expect(await report(server.url, fresh)).toBe(202);
  expect(await report(server.url, old)).toBe(202);
  expect(await pending()).toBe(true);

  await Bun.sleep(2200);
  expect(await report(server.url, old)).toBe(401);
  expect(await report(server.url, fresh)).toBe(202);
  expect(await pending()).toBe(false);
  await server.stop();
});

test("server-key rotate: clients and dashboard channels keep working; after drop-previous a database copy plus the old key reveals no secret", async () => {
  const dataDir = newDir();
  const store = await openServerStore(dataDir);
  const keyring = loadKeyring(dataDir);
  const a = await enrollClient(store, keyring, "a", "http://x", Date.now());
  const b = await enrollClient(store, keyring, "b", "http://x", Date.now());
  // a channel added in the dashboard: its URL (and the token in it) is sealed like a client secret
  const channelUrl = "ntfy://127.0.0.1:9/alerts?token=tk_rotation_secret";
  await store.channels.create({
    id: "ch_1",
    urlSealed: keyring.encrypt(channelUrl),
    display: "ntfy://127.0.0.1:9/alerts?token=***",
    createdAt: 1,
    updatedAt: 1,
  });
  await store.close();
  const oldKeyText = readFileSync(join(dataDir, "server.key"), "utf8");
  const creds = [a, b].map((e) => ({ id: e.id, secret: e.secret }));

  let server = await startTestServer({ dataDir });
  for (const c of creds) expect(await report(server.url, c)).toBe(202);
  // refused while the server runs: it holds the keys it loaded at start
  const busy = await sentinel(["server-key", "rotate", "--data-dir", dataDir]);
  expect(busy.code).toBe(1);
  expect(busy.stderr).toContain("stop it first");
  await server.stop();

  const r = await sentinel(["server-key", "rotate", "--data-dir", dataDir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { previousKeyId: string; currentKeyId: string; resealed: number };
  expect(out.resealed).toBe(3);
  expect(out.currentKeyId).not.toBe(out.previousKeyId);
  expect(readFileSync(join(dataDir, "server.key.previous"), "utf8")).toBe(oldKeyText);
  const status = JSON.parse(
    (await sentinel(["server-key", "status", "--data-dir", dataDir, "--json"])).stdout,
  );
  expect(status).toMatchObject({
    current: out.currentKeyId,
    previous: out.previousKeyId,
    sealed: { [out.currentKeyId]: 3 },
  });

  // a second rotation right away is fine too: nothing is sealed with the previous key any more
  server = await startTestServer({ dataDir });
  for (const c of creds) expect(await report(server.url, c)).toBe(202);
  await server.stop();

  const dropped = await sentinel(["server-key", "drop-previous", "--data-dir", dataDir]);
  expect(dropped.code, dropped.stderr).toBe(0);
  expect(existsSync(join(dataDir, "server.key.previous"))).toBe(false);
  server = await startTestServer({ dataDir });
  for (const c of creds) expect(await report(server.url, c)).toBe(202);
  await server.stop();

  // an attacker with a copy of the database (a file copy, or a dump on PostgreSQL) and the retired key
  const sealed: { s: string }[] = [];
  if (TEST_POSTGRES) {
    const dump = await openServerStore(dataDir);
    for (const c of await dump.clients.list()) sealed.push({ s: c.secretEnc });
    for (const c of await dump.channels.list()) sealed.push({ s: c.urlSealed });
    await dump.close();
  } else {
    const stolen = join(newDir(), "stolen.db");
    copyFileSync(join(dataDir, "sentinel.db"), stolen);
    const { Database } = await import("bun:sqlite");
    const db = new Database(stolen, { readonly: true });
    sealed.push(
      ...db
        .query<{ s: string }, []>(
          "SELECT secret_enc AS s FROM clients UNION ALL SELECT url_sealed FROM notify_channels",
        )
        .all(),
    );
    db.close();
  }
  const oldOnly = createKeyring([parseServerKey(oldKeyText, "old")]);
  expect(sealed).toHaveLength(3);
  for (const { s } of sealed) expect(() => oldOnly.decrypt(s)).toThrow();
  // and the current key opens the channel URL as it was
  const now = await openServerStore(dataDir);
  expect(loadKeyring(dataDir).decrypt((await now.channels.get("ch_1"))?.urlSealed ?? "")).toBe(channelUrl);
  await now.close();
});

test("server-key rotate refuses keys from the environment and explains the procedure", async () => {
  const dataDir = newDir();
  loadKeyring(dataDir);
  const r = await sentinel(["server-key", "rotate", "--data-dir", dataDir], {
    env: { SENTINEL_SERVER_KEY: Buffer.alloc(32, 7).toString("base64") },
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("SENTINEL_PREVIOUS_SERVER_KEY");
});
