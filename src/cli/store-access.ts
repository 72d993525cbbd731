/**
 * How a command reaches the server's data: SQLite in the data dir, or the PostgreSQL database
 * the replicas share (--database). On PostgreSQL the server key must be the replicas' key: a
 * secret sealed with another would open nowhere, so a command with another key is refused.
 */
import { hostname } from "node:os";
import type { Keyring } from "../server/auth/keyring.ts";
import type { Store } from "../server/store/index.ts";

export interface StoreAccess {
  dataDir: string;
  database?: string | undefined;
  serverKeyFile?: string | undefined;
}

export async function openCommandStore(o: StoreAccess): Promise<Store> {
  const { openStore } = await import("../server/store/index.ts");
  return openStore({
    dataDir: o.dataDir,
    database: o.database,
    postgres: { poolSize: 2, replicaId: `cli:${hostname()}:${process.pid}` },
  });
}

/** The server key, checked against the database's on PostgreSQL (recorded there if it is the first). */
export async function loadCommandKeyring(
  o: StoreAccess,
  store: Store,
  env: Record<string, string | undefined> = Bun.env,
): Promise<Keyring> {
  const [{ loadKeyring }, { loadSharedKeyring }] = await Promise.all([
    import("../server/auth/keyring.ts"),
    import("../server/auth/key-fingerprint.ts"),
  ]);
  if (store.engine !== "postgres") return loadKeyring(o.dataDir, env, o.serverKeyFile);
  return loadSharedKeyring(store.meta, o.dataDir, env, o.serverKeyFile);
}
