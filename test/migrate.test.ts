/**
 * `sentinel migrate`: SQLite → PostgreSQL → SQLite keeps every row of every shared table (ids,
 * JSON text byte for byte, booleans, nulls), refuses a non-empty target, a data dir a server
 * holds and a database a replica leads on. Needs SENTINEL_TEST_POSTGRES.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase, redact } from "../src/cli/migrate.ts";
import { run } from "../src/main.ts";
import { acquireDataLock } from "../src/server/data-lock.ts";
import type { ClientState } from "../src/server/monitor/types.ts";
import { emptyTotals } from "../src/server/reports/fold.ts";
import { COPIED_TABLES } from "../src/server/store/copy.ts";
import { DATABASE_FILE, openStore } from "../src/server/store/index.ts";
import { openPostgresStore } from "../src/server/store/postgres/index.ts";
import type { Store } from "../src/server/store/types.ts";
import { createTestDatabase, TEST_POSTGRES, type TestDatabase } from "./helpers/postgres.ts";

const T0 = 1_800_000_000_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-migrate-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function database(migrated = true): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrated });
  cleanups.push(() => db.drop());
  return db;
}

/** A data dir with rows in every shared table, including awkward values. */
async function populatedDataDir(): Promise<string> {
  const dir = dataDir();
  const store: Store = await openStore({ dataDir: dir });
  try {
    const s = store;
    for (const [i, name] of ["Alpha", "bravo", "Émile", "zed"].entries())
      await s.clients.create({ id: `c${i}`, name, createdAt: T0 + i, secretEnc: `v1.sealed.${i}` });
    const state = {
      verdicts: { bypass: { status: "ok", evidence: { exits: [{ ip: "198.51.100.7" }] } } },
      n: 1.5,
    };
    await s.clients.applyReport("c0", {
      state: state as unknown as ClientState,
      lastReport: {
        v: 1,
        observed_at: "2027-01-15T08:00:00.000Z",
        interval_s: 30,
        ipv4: { ok: true },
      } as never,
      exit: { ip: "198.51.100.7", country: "NL", asn: 4_200_000_001, org: 'Org "quoted" ünïcode' },
      lastSourceIp: "203.0.113.9",
      lastReportAt: T0,
      lastObservedAt: T0 - 1,
      status: "green",
      liveness: "online",
      lateAt: T0 + 45_000,
      offlineAt: T0 + 90_000,
      nextCheckAt: T0 + 45_000,
    });
    await s.clients.casState(
      "c0",
      { liveness: "online", lastReportAt: T0 },
      {
        state: null,
        status: "yellow",
        liveness: "late",
        lateAt: T0,
        offlineAt: T0 + 1,
        nextCheckAt: T0 + 1,
        causes: ["late", "dns:leak"],
        at: T0,
      },
    );
    await s.clients.updateSettings("c1", {
      interval_s: 60,
      grace_s: null,
      expected_country: "DE",
      expected_asn: null,
      paused: true,
      muted_until: T0 + 5,
      dns_allow_asns: [13335, 15169],
      exit_asns: [64_496],
      exit_countries: ["NL", "SE"],
      tags: ["home", "nas"],
    });
    await s.clients.rotateSecret("c2", "v1.sealed.new", T0 + 3_600_000);
    const e1 = await s.events.append({
      clientId: "c0",
      kind: "bypass",
      from: "green",
      to: "red",
      evidence: { why: "home exit", list: [1, null] },
      at: T0,
      suppressed: false,
    });
    await s.events.append({
      clientId: null,
      kind: "server_restart",
      from: null,
      to: null,
      evidence: {},
      at: T0 + 1,
      suppressed: true,
    });
    const digest = (await s.outbox.insert({
      eventId: null,
      clientId: null,
      kind: "digest",
      channel: "telegram",
      target: "-100:7",
      idempotencyKey: "digest-1",
      payload: { text: "two alerts" },
      status: "pending",
      nextAttemptAt: T0 + 60_000,
      createdAt: T0,
    })) as number;
    const member = (await s.outbox.insert({
      eventId: e1,
      clientId: "c0",
      kind: "bypass",
      channel: "telegram",
      target: "-100:7",
      idempotencyKey: "bypass-1",
      payload: ["part 1", "part 2"],
      status: "pending",
      digestId: digest,
      nextAttemptAt: T0,
      createdAt: T0,
    })) as number;
    await s.outbox.insert({
      eventId: e1,
      clientId: "c0",
      kind: "bypass",
      channel: "webhook",
      target: "https://example.invalid/hook",
      idempotencyKey: "bypass-2",
      payload: "a string payload",
      status: "suppressed",
      nextAttemptAt: T0,
      createdAt: T0,
      lastError: "muted",
    });
    expect(member).toBeGreaterThan(digest);
    await s.outbox.claim(digest, "replica-a", T0 + 60_000, T0 + 90_000);
    await s.outbox.progress(digest, "replica-a", 1, T0 + 95_000);
    await s.tokens.create({
      id: "t1",
      name: "grafana",
      role: "viewer",
      tokenHash: "h1",
      createdAt: T0,
      lastUsedAt: null,
      revokedAt: null,
    });
    await s.tokens.revoke("grafana", T0 + 9);
    await s.auth.createUser({
      id: "u1",
      name: "root",
      role: "admin",
      passwordHash: "$argon2id$v=19$x",
      createdAt: T0,
    });
    await s.auth.recordFailedLogin("u1", 5, T0 + 900_000);
    await s.auth.createSession({
      idHash: "sess1",
      userId: "u1",
      csrfToken: "csrf",
      createdAt: T0,
      expiresAt: T0 + 86_400_000,
      lastSeenAt: T0,
      sourceIp: "2001:db8::1",
    });
    await s.auth.audit({
      at: T0,
      actor: "root",
      action: "client.add",
      target: "c0",
      detail: { name: "Alpha" },
      sourceIp: null,
    });
    await s.history.record("c0", {
      at: T0,
      status: "green",
      liveness: "online",
      exitIpv4: "198.51.100.7",
      exitIpv6: null,
      resolvers: "192.0.2.53",
    });
    await s.history.record("c0", {
      at: T0 + 5,
      status: "red",
      liveness: "online",
      exitIpv4: null,
      exitIpv6: "2001:db8::7",
      resolvers: null,
    });
    await s.history.recordServerDowntime(T0 - 10_000, T0 - 5_000);
    await s.meta.set("home_identity", JSON.stringify({ addresses: ["192.0.2.1"] }));
    await s.outbox.recordAttempt("telegram", "-100:7", T0, "HTTP 429");
    await s.outbox.recordAttempt("webhook", "https://example.invalid/hook", T0 + 1, null);
    await s.history.record("c0", {
      at: T0 + 9,
      status: "red",
      liveness: "late",
      exitIpv4: "198.51.100.8",
      exitIpv6: null,
      resolvers: null,
      causes: "bypass:leak,late",
      detail: { exits: [{ ip: "198.51.100.8", country: "BR", asn: 64_501, org: "VPN Co" }], resolvers: [] },
    });
    const totals = { ...emptyTotals(), knownMs: 86_400_000, upMs: 86_000_000, redMs: 400_000, bypassN: 1 };
    await s.rollups.writeDay(
      20_833,
      [{ clientId: "c0", day: 20_833, running: totals, carry: { redSince: T0, open: { bypass: T0 } } }],
      { day: 20_833, clients: 1, totals },
    );
    await s.badges.create({
      id: "b1",
      clientId: "c0",
      kind: "uptime",
      tokenHash: "bh1",
      label: "Alpha's uptime",
      createdAt: T0,
      lastUsedAt: null,
      revokedAt: null,
    });
    await s.badges.touch("b1", T0 + 3);
    await s.reportRuns.claim({
      schedule: "mon 08:00 UTC",
      periodStart: T0 - 604_800_000,
      periodEnd: T0,
      status: "sent",
      queued: 2,
      createdAt: T0 + 1,
      note: null,
    });
    await s.channels.create({
      id: "ch_1",
      urlSealed: "v1:k1:sealed-url",
      display: "ntfys://ntfy.example/alerts?token=***",
      createdAt: T0,
      updatedAt: T0 + 7,
    });
    await s.clients.create({
      id: "c9",
      name: "keepalive",
      createdAt: T0,
      secretEnc: "v1.sealed.9",
      origin: "legacy",
    });
  } finally {
    await store.close();
  }
  // JSON as another writer may have formatted it: it must come back byte for byte
  const raw = new Database(join(dir, DATABASE_FILE));
  raw
    .query("UPDATE events SET evidence_json = ? WHERE kind = 'server_restart'")
    .run('{"b": 1.0, "a":[1,  2], "2": "x"}');
  raw.close();
  return dir;
}

/** Every shared table's rows, in a stable order, as SQLite holds them. */
function dump(dir: string): Record<string, unknown[]> {
  const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const table of COPIED_TABLES) {
      const rows = db.query<Record<string, unknown>, []>(`SELECT * FROM ${table}`).all();
      out[table] = rows
        .filter((r) => !(table === "meta" && r.key === "ready_probe"))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }
    return out;
  } finally {
    db.close();
  }
}

describe.skipIf(!TEST_POSTGRES)("sentinel migrate", () => {
  test("SQLite → PostgreSQL → SQLite keeps every row, id, JSON text and null", async () => {
    const source = await populatedDataDir();
    const pg = await database(false);
    const there = await migrateDatabase(source, pg.url);
    const original = dump(source);
    expect(there.tables.map((t) => [t.table, t.rows])).toEqual(
      COPIED_TABLES.map((t) => [t, original[t]?.length ?? 0]),
    );
    for (const t of [
      "clients",
      "client_state",
      "events",
      "outbox",
      "users",
      "sessions",
      "audit_log",
      "client_history",
      "server_downtime",
      "channel_lanes",
      "notify_channels",
      "client_days",
      "fleet_days",
      "badge_tokens",
      "report_runs",
      "meta",
      "api_tokens",
    ])
      expect(original[t]?.length).toBeGreaterThan(0);
    // PostgreSQL holds the JSON text as written
    const [evidence] =
      await pg.admin`SELECT evidence_json::text AS t FROM events WHERE kind = 'server_restart'`;
    expect(evidence.t).toBe('{"b": 1.0, "a":[1,  2], "2": "x"}');

    // the PostgreSQL store reads what was copied, and new ids continue after the copied ones
    const store = await openPostgresStore(pg.url, { poolSize: 2 });
    try {
      const c0 = await store.clients.get("c0");
      expect(c0).toMatchObject({ liveness: "late", revision: 2, exit: { asn: 4_200_000_001 } });
      expect((await store.clients.get("c1"))?.settings.dns_allow_asns).toEqual([13335, 15169]);
      const maxEvent = Math.max(...(original.events as { id: number }[]).map((e) => e.id));
      const next = await store.events.append({
        clientId: null,
        kind: "x",
        from: null,
        to: null,
        evidence: {},
        at: T0,
        suppressed: false,
      });
      expect(next).toBeGreaterThan(maxEvent);
    } finally {
      await store.close();
    }
    await pg.admin`DELETE FROM events WHERE kind = 'x'`;

    const back = join(dataDir(), "not-yet"); // a data dir that does not exist yet is made (0700)
    const home = await migrateDatabase(pg.url, back);
    expect(statSync(back).mode & 0o777).toBe(0o700);
    expect(home.tables).toEqual(there.tables);
    expect(dump(back)).toEqual(original);
  }, 60_000);

  test("refuses a target that is not empty, in both directions, and copies nothing", async () => {
    const source = await populatedDataDir();
    const pg = await database();
    await pg.admin`INSERT INTO meta (key, value) VALUES ('something', 'here')`;
    await expect(migrateDatabase(source, pg.url)).rejects.toThrow(/not empty \(table meta has rows\)/);
    const [n] = await pg.admin`SELECT count(*)::int AS n FROM clients`;
    expect(n.n).toBe(0);

    const empty = await database();
    await migrateDatabase(source, empty.url);
    const occupied = await populatedDataDir();
    await expect(migrateDatabase(empty.url, occupied)).rejects.toThrow(
      /not empty \(table clients has rows\)/,
    );
  }, 60_000);

  test("refuses while a server holds the data dir, or a replica leads on the database", async () => {
    const source = await populatedDataDir();
    const pg = await database();
    const held = acquireDataLock(source);
    try {
      // another process's lock: rewrite the owner as a live process that is not us
      const lockFile = join(source, "server.pid");
      const owner = JSON.parse(await Bun.file(lockFile).text());
      await Bun.write(
        lockFile,
        JSON.stringify({ ...owner, pid: process.ppid, procStart: null, token: "other" }),
      );
      await expect(migrateDatabase(source, pg.url)).rejects.toThrow(/refusing to migrate: a sentinel server/);
    } finally {
      held.release();
      rmSync(join(source, "server.pid"), { force: true });
    }

    await migrateDatabase(source, pg.url);
    const replica = await openPostgresStore(pg.url, { poolSize: 2, replicaId: "replica-a" });
    try {
      await replica.leadership.start(() => {});
      await expect(migrateDatabase(pg.url, dataDir())).rejects.toThrow(/replica replica-a is running/);
    } finally {
      await replica.close();
    }
  }, 60_000);

  test("the command: both --from and --to, one of each engine; the password never printed", async () => {
    const source = await populatedDataDir();
    const pg = await database();
    const lines: string[] = [];
    const log = console.log;
    const error = console.error;
    console.log = (...a: unknown[]) => void lines.push(a.join(" "));
    console.error = (...a: unknown[]) => void lines.push(a.join(" "));
    try {
      expect(await run(["migrate", "--from", source])).toBe(2);
      expect(await run(["migrate", "--from", source, "--to", dataDir()])).toBe(2);
      expect(await run(["migrate", "--from", dataDir(), "--to", pg.url])).toBe(2); // no database there
      expect(await run(["migrate", "--from", source, "--to", pg.url])).toBe(0);
    } finally {
      console.log = log;
      console.error = error;
    }
    const out = lines.join("\n");
    expect(out).toContain("Every table copied and its row count verified.");
    expect(out).toMatch(/clients\s+5/);
    const password = new URL(pg.url).password;
    expect(password.length).toBeGreaterThan(0);
    expect(out).not.toContain(password);
    expect(redact(pg.url)).toContain(":***@");
  }, 60_000);
});
