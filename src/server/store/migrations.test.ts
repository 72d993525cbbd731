import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReplayGuard } from "../api/reports/replay-guard.ts";
import { MIGRATIONS } from "./migrations.ts";
import { migrate, openSqliteStore } from "./sqlite.ts";

test("migration 5 carries the nonces still inside their window over to the hash log", () => {
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
  const guard = new ReplayGuard(store.nonces);
  guard.load(now);
  expect(guard.size).toBe(1);
  expect(guard.use("c1", "live-nonce-0000000", now + 300_000, now)).toBe(false);
  expect(guard.use("c1", "old-nonce-00000000", now + 300_000, now)).toBe(true);
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a database from a newer sentinel is refused", () => {
  const db = new Database(":memory:");
  db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
  expect(() => migrate(db)).toThrow(/newer than this sentinel/);
});
