/** Starts the real server on port 0 with a temp data dir, for integration tests. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import { loadKeyring } from "../../src/server/auth/keyring.ts";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server/main.ts";
import { openStore } from "../../src/server/store/index.ts";

export const quietLogger = () => createConsola({ level: -999 });

/**
 * Makes `dir` a data dir as the server's first start does (database and server key), for tests
 * that run data-dir commands before any server ran there: those refuse an empty directory.
 */
export async function initDataDir(dir: string): Promise<string> {
  await (await openStore({ dataDir: dir })).close();
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
  const running = await startServer({
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
