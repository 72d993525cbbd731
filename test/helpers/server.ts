/**
 * Starts the real server on port 0 with a temp data dir, for integration tests. With
 * SENTINEL_TEST_POSTGRES set, its database is a fresh PostgreSQL database (the same one again
 * when a test restarts a server on the same data dir).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import { loadKeyring } from "../../src/server/auth/keyring.ts";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server/main.ts";
import { openStore, type Store } from "../../src/server/store/index.ts";
import { testDatabaseFor } from "./postgres.ts";

export const quietLogger = () => createConsola({ level: -999 });

/**
 * The store a test server on `dataDir` uses (the data dir's SQLite file, or its PostgreSQL
 * database under SENTINEL_TEST_POSTGRES): to enroll clients before it starts, or to look at
 * what it stored.
 */
export async function openServerStore(dataDir: string): Promise<Store> {
  return openStore({ dataDir, database: await testDatabaseFor(dataDir), postgres: { poolSize: 2 } });
}

/**
 * Makes `dir` a data dir as the server's first start does (database and server key), for tests
 * that run data-dir commands before any server ran there: those refuse an empty directory.
 */
export async function initDataDir(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await (await openServerStore(dir)).close();
  loadKeyring(dir);
  return dir;
}

export function tempDir(prefix = "sentinel-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startTestServer(
  opts: Partial<ServerOptions> & { dataDir?: string } = {},
): Promise<RunningServer & { dataDir: string }> {
  const dataDir = opts.dataDir ?? tempDir().path;
  const database = opts.database ?? (await testDatabaseFor(dataDir));
  const running = await startServer({
    // small pools: a test file may keep several servers (and their connections) at once
    ...(database ? { database, databasePoolSize: 3 } : {}),
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
