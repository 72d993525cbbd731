/**
 * Starts the real server on port 0 with a temp data dir, for integration tests. With
 * SENTINEL_TEST_POSTGRES set, its database is a fresh PostgreSQL database (the same one again
 * when a test restarts a server on the same data dir).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server/main.ts";
import { createTestDatabase, TEST_POSTGRES, type TestDatabase } from "./postgres.ts";

export const quietLogger = () => createConsola({ level: -999 });

export function tempDir(prefix = "sentinel-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The PostgreSQL database of each data dir a test server used (dropped when the tests end). */
const databases = new Map<string, TestDatabase>();

async function databaseFor(dataDir: string): Promise<string | undefined> {
  if (!TEST_POSTGRES) return undefined;
  let db = databases.get(dataDir);
  if (!db) {
    if (databases.size === 0) process.once("beforeExit", () => void dropTestDatabases());
    db = await createTestDatabase();
    databases.set(dataDir, db);
  }
  return db.url;
}

export async function dropTestDatabases(): Promise<void> {
  const all = [...databases.values()];
  databases.clear();
  await Promise.all(all.map((db) => db.drop().catch(() => {})));
}

export async function startTestServer(
  opts: Partial<ServerOptions> & { dataDir?: string } = {},
): Promise<RunningServer & { dataDir: string }> {
  const dataDir = opts.dataDir ?? tempDir().path;
  const database = opts.database ?? (await databaseFor(dataDir));
  const running = await startServer({
    ...(database ? { database } : {}),
    listen: { hostname: "127.0.0.1", port: 0 },
    publicUrl: "http://127.0.0.1:0",
    logger: quietLogger(),
    reportRate: 1_000_000, // tests send as fast as they can; rate limiting has its own tests
    // never ask real IP providers from a test
    homeLearn: false,
    ...opts,
    dataDir,
  });
  return { ...running, dataDir };
}
