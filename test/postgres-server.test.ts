/**
 * `sentinel server --database postgres://…`: replicas on one database share the server key
 * (a replica with another key, or none, is refused with a clear message), /readyz and /metrics
 * say which replica leads, and the commands that open the store work on the database.
 * Needs SENTINEL_TEST_POSTGRES.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { run } from "../src/main.ts";
import { HEADER_CLIENT, HEADER_NONCE } from "../src/protocol/signing.ts";
import { KEY_FINGERPRINT_META } from "../src/server/auth/key-fingerprint.ts";
import { createKeyring, parseServerKey } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { openPostgresStore } from "../src/server/store/postgres/index.ts";
import { nonceKey } from "../src/server/store/postgres/repositories.ts";
import { createTestDatabase, TEST_POSTGRES, type TestDatabase } from "./helpers/postgres.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { startTestServer, tempDir } from "./helpers/server.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

function keyFile(fill: number): string {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const file = join(dir.path, "server.key");
  writeFileSync(file, `${Buffer.alloc(32, fill).toString("base64")}\n`, { mode: 0o600 });
  return file;
}

async function replica(url: string, serverKeyFile?: string) {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const server = await startTestServer({
    dataDir: dir.path,
    database: url,
    ...(serverKeyFile ? { serverKeyFile } : {}),
  });
  cleanups.push(() => server.stop());
  return server;
}

/** Captures what a CLI run prints. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    return { code: await run(args), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe.skipIf(!TEST_POSTGRES)("sentinel server on PostgreSQL", () => {
  test("two replicas with one key: one leads, /readyz and /metrics say which", async () => {
    const db = await database();
    const key = keyFile(1);
    const a = await replica(db.url, key);
    const b = await replica(db.url, key);
    const ready = await Promise.all([a, b].map(async (s) => (await fetch(`${s.url}/readyz`)).json()));
    for (const r of ready) {
      expect(r.status).toBe("ready");
      expect(r.database).toEqual({ engine: "postgres", reachable: true });
    }
    expect(ready.map((r) => r.role).sort()).toEqual(["follower", "leader"]);
    const metrics = await Promise.all([a, b].map(async (s) => (await fetch(`${s.url}/metrics`)).text()));
    const leaders = metrics.map((m) => /sentinel_leader\{engine="postgres"\} (\d)/.exec(m)?.[1]);
    expect([...leaders].sort()).toEqual(["0", "1"]);
    const leaderText = metrics[leaders.indexOf("1")] as string;
    expect(leaderText).toContain('sentinel_leadership_changes_total{to="leader"} 1');
  });

  test("reports sent at once are committed together: every 202 is stored, a request sent twice is stored once, a client's two reports are judged one after the other", async () => {
    const db = await database();
    const key = keyFile(7);
    const server = await replica(db.url, key);
    const store = await openPostgresStore(db.url, { poolSize: 2 });
    const creds: Credentials[] = [];
    try {
      const keyring = createKeyring([parseServerKey(await Bun.file(key).text(), key)]);
      for (let i = 0; i < 60; i++) {
        const e = await enrollClient(store, keyring, `batch-${i}`, "http://x", Date.now());
        creds.push({ id: e.id, secret: e.secret });
      }
    } finally {
      await store.close();
    }
    const requests = creds.map((c) => signedPost(server.url, c, JSON.stringify(sampleReport())));
    const [first, second] = creds as [Credentials, Credentials];
    const replay = (requests[0] as Request).clone();
    const again = signedPost(server.url, second, JSON.stringify(sampleReport()));
    const responses = await Promise.all([...requests, replay, again].map((r) => fetch(r)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(61);
    expect(statuses.filter((s) => s === 401)).toHaveLength(1);
    const admin = new SQL(db.url, { max: 1 });
    try {
      const hashes = [...requests, again].map((r) =>
        nonceKey(r.headers.get(HEADER_CLIENT) as string, r.headers.get(HEADER_NONCE) as string).toString(),
      );
      const [stored] =
        await admin`SELECT count(*)::int AS n FROM nonces WHERE hash = ANY(${hashes}::bigint[])`;
      expect(stored.n).toBe(61);
      const seen =
        await admin`SELECT client_id, count(*)::int AS n FROM events WHERE kind = 'client.first_seen'
        GROUP BY client_id`;
      expect(seen).toHaveLength(60);
      expect(seen.every((r: { n: number }) => r.n === 1)).toBe(true);
      const [twice] = await admin`SELECT revision FROM clients WHERE id = ${second.id}`;
      const [once] = await admin`SELECT revision FROM clients WHERE id = ${first.id}`;
      // the second report of one client saw the first's judgment: unchanged, a heartbeat
      expect([Number(once.revision), Number(twice.revision)]).toEqual([1, 1]);
    } finally {
      await admin.close();
    }
  });

  test("a replica with another server key, or with none, is refused with a clear message", async () => {
    const db = await database();
    await replica(db.url, keyFile(1));
    const other = await replica(db.url, keyFile(2)).catch((e) => e);
    expect(other).toBeInstanceOf(Error);
    expect(other.message).toContain("every replica needs the same server key");
    const [recorded] = await db.admin`SELECT value FROM meta WHERE key = ${KEY_FINGERPRINT_META}`;
    expect(other.message).toContain(`(id ${recorded.value})`);
    // no key at all: refused before a fresh key is written into the data dir
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const none = await startTestServer({ dataDir: dir.path, database: db.url }).catch((e) => e);
    expect(none.message).toContain("there is no server key here");
    expect(await Bun.file(join(dir.path, "server.key")).exists()).toBe(false);
  });

  test("commands on the database: clients add seals with the replicas' key; backup and restore point to pg_dump", async () => {
    const db = await database();
    const key = keyFile(3);
    const server = await replica(db.url, key);
    const data = tempDir();
    cleanups.push(() => data.remove());
    const common = ["--data-dir", data.path, "--database", db.url];
    const added = await cli(["clients", "add", "laptop", "--json", ...common, "--server-key-file", key]);
    expect(added.code).toBe(0);
    const { id } = JSON.parse(added.out);
    const listed = await cli(["clients", "list", "--json", ...common]);
    expect(JSON.parse(listed.out).map((c: { id: string }) => c.id)).toEqual([id]);
    // the server (another process, in real life) sees the client the command added
    const seen = await fetch(`${server.url}/readyz`);
    expect(seen.status).toBe(200);
    // with another key the command is refused, and nothing is added
    const wrong = await cli(["clients", "add", "phone", ...common, "--server-key-file", keyFile(4)]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toContain("every replica needs the same server key");
    expect(JSON.parse((await cli(["clients", "list", "--json", ...common])).out)).toHaveLength(1);
    const backup = await cli(["backup", join(data.path, "b.db"), ...common]);
    expect(backup.code).toBe(2);
    expect(backup.out).toContain("pg_dump");
    const restore = await cli(["restore", join(data.path, "b.db"), ...common]);
    expect(restore.code).toBe(2);
    expect(restore.out).toContain("pg_restore");
    // the URL's password never shows
    expect(backup.out + restore.out + wrong.out).not.toContain(new URL(db.url).password);
  });
});
