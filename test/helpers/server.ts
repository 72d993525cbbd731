/** Starts the real server on port 0 with a temp data dir, for integration tests. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server/main.ts";

export const quietLogger = () => createConsola({ level: -999 });

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
