import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { causesOf } from "../../monitor/causes.ts";
import type { ClientState } from "../../monitor/types.ts";
import { migrate, openSqliteStore } from "./index.ts";
import { MIGRATIONS } from "./migrations.ts";

test("migration 5 carries the nonces still inside their window over to the hash log", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-migrate-"));
  const file = join(dir, "sentinel.db");
  const old = new Database(file, { create: true, strict: true });
  for (const [v, m] of MIGRATIONS.slice(0, 4).entries()) {
    old.exec(m as string);
    old.exec(`PRAGMA user_version = ${v + 1}`);
  }
  const now = Date.now();
  const add = old.query("INSERT INTO nonces (client_id, nonce, expires_at) VALUES (?, ?, ?)");
  add.run("c1", "live-nonce-0000000", now + 300_000);
  add.run("c1", "old-nonce-00000000", now - 1_000);
  old.close();

  const store = openSqliteStore(file);
  expect(await store.nonces.use("c1", "live-nonce-0000000", now + 300_000, now)).toBe(false);
  expect(await store.nonces.use("c1", "old-nonce-00000000", now + 300_000, now)).toBe(true);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("migration 6 fills the exit columns from the stored state, or the reported address", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-migrate-"));
  const file = join(dir, "sentinel.db");
  const old = new Database(file, { create: true, strict: true });
  for (const [v, m] of MIGRATIONS.slice(0, 5).entries()) {
    if (typeof m === "string") old.exec(m);
    else m(old);
    old.exec(`PRAGMA user_version = ${v + 1}`);
  }
  const client = old.query("INSERT INTO clients (id, name, created_at, secret_enc) VALUES (?, ?, 0, 'x')");
  const state = old.query(
    "INSERT INTO client_state (client_id, state_json, last_report_json) VALUES (?, ?, ?)",
  );
  const info = (ip: string) => ({ ip, country: "NL", asn: 64500, org: "VPN Co", source: "database" });
  client.run("v4", "judged-v4");
  state.run("v4", JSON.stringify({ exit: { ipv4: info("198.51.100.7"), ipv6: info("2001:db8::7") } }), "{}");
  client.run("v6", "judged-v6");
  state.run("v6", JSON.stringify({ exit: { ipv4: null, ipv6: info("2001:db8::7") } }), "{}");
  client.run("raw", "reported-only");
  state.run(
    "raw",
    JSON.stringify({ exit: { ipv4: null, ipv6: null } }),
    JSON.stringify({ ipv4: { ip: "203.0.113.9" } }),
  );
  client.run("new", "never-reported");
  old.close();

  const store = openSqliteStore(file);
  const exits = Object.fromEntries((await store.clients.summaries()).map((s) => [s.id, s.exit]));
  expect(exits).toEqual({
    v4: { ip: "198.51.100.7", country: "NL", asn: 64500, org: "VPN Co" },
    v6: { ip: "2001:db8::7", country: "NL", asn: 64500, org: "VPN Co" },
    raw: { ip: "203.0.113.9", country: null, asn: null, org: null },
    new: null,
  });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a database from a newer sentinel is refused", async () => {
  const db = new Database(":memory:");
  db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
  expect(() => migrate(db)).toThrow(/newer than this sentinel/);
});

test("migration 12 fills status_since from history and causes from the stored verdicts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-migrate-"));
  const file = join(dir, "sentinel.db");
  const old = new Database(file, { create: true, strict: true });
  for (const [v, m] of MIGRATIONS.slice(0, 11).entries()) {
    if (typeof m === "string") old.exec(m);
    else m(old);
    old.exec(`PRAGMA user_version = ${v + 1}`);
  }
  const client = old.query(
    "INSERT INTO clients (id, name, created_at, secret_enc, status, liveness, last_report_at) VALUES (?, ?, 0, 'x', ?, ?, ?)",
  );
  const state = old.query(
    "INSERT INTO client_state (client_id, state_json, last_report_json) VALUES (?, ?, '{}')",
  );
  const history = old.query(
    "INSERT INTO client_history (client_id, at, status, liveness) VALUES (?, ?, ?, ?)",
  );
  const v = (status: string) => ({ status });
  client.run("red", "leaky", "red", "offline", 500);
  state.run(
    "red",
    JSON.stringify({
      paused: false,
      verdicts: { bypass: v("leak"), dns: v("suspect"), ipv6: v("na"), exit: v("leak") },
    }),
  );
  history.run("red", 100, "red", "online");
  history.run("red", 200, "green", "online");
  history.run("red", 300, "red", "online");
  history.run("red", 400, "red", "offline");
  client.run("paused", "paused", "grey", "online", 50);
  state.run("paused", JSON.stringify({ paused: true, verdicts: null }));
  client.run("new", "never", "grey", "never", null);
  // an exit leak without a bypass verdict is a cause of its own; late counts; ok and na do not
  const exitState = { verdicts: { dns: v("ok"), exit: v("leak"), ipv6: v("leak") } };
  client.run("exit", "exit", "yellow", "late", 70);
  state.run("exit", JSON.stringify(exitState));
  history.run("exit", 60, "yellow", "online");
  old.close();

  const store = openSqliteStore(file);
  const byId = Object.fromEntries((await store.clients.summaries()).map((s) => [s.id, s]));
  expect(byId.red?.statusSince).toBe(300);
  // an exit through home is the bypass itself, said once
  expect(byId.red?.causes).toEqual(["offline", "bypass:leak", "dns:suspect"]);
  expect(byId.paused?.causes).toEqual(["paused"]);
  expect(byId.paused?.statusSince).toBe(50);
  expect(byId.new?.causes).toEqual([]);
  expect(byId.new?.statusSince).toBeNull();
  // the rule the monitor applies to every new state (monitor/causes.ts), in its order
  expect(byId.exit?.causes).toEqual(["late", "ipv6:leak", "exit:leak"]);
  expect(byId.exit?.causes).toEqual(
    causesOf({ paused: false, liveness: "late", verdicts: exitState.verdicts } as unknown as ClientState),
  );
  expect(byId.exit?.statusSince).toBe(60);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
