/**
 * How the commands that manage a server's data (clients, tokens, users, import) open its data
 * dir: only one the server created (never a fresh database and key in whatever directory the
 * shell is in), with a permission problem named by path and owner, and patient with a busy
 * database: a provisioning script runs many of them at once, beside the running server.
 */
import { constants, statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { OptionError } from "../config/options.ts";
import type { Keyring } from "../server/auth/keyring.ts";
import type { Store } from "../server/store/index.ts";
import { isPermissionError, PermissionError, permissionMessage, requireAccess } from "./permissions.ts";

/** A data dir a command cannot work with as it is (its key missing, its database held too long). */
export class DataDirError extends Error {
  readonly code = "data_dir";
  readonly exitCode = 1;
}

/** Kept here (not imported) so that checking a data dir loads no store code. */
const DATABASE_FILE = "sentinel.db";
const SERVER_KEY_FILE = "server.key";

const RW = constants.R_OK | constants.W_OK;

/**
 * Whether `path` exists. A directory on the way that this process may not enter is a permission
 * problem (named, with its owner), not an absence.
 */
function present(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    if (!isPermissionError(e)) return false;
  }
  let dir = "/";
  for (const part of resolve(path).split("/").filter(Boolean)) {
    requireAccess(dir, constants.X_OK, "enter");
    dir = join(dir, part);
  }
  throw new PermissionError(permissionMessage(path, "reach"));
}

/**
 * The checks before a command touches a data dir: it exists and holds a database (made by the
 * server), and every file SQLite writes is ours to write. `key`: the command also needs the
 * server key (to seal or open client secrets).
 */
export function checkDataDir(
  dataDir: string,
  opts: { key?: boolean; env?: Record<string, string | undefined> } = {},
): void {
  const env = opts.env ?? Bun.env;
  const shown = dataDir === resolve(dataDir) ? dataDir : `${dataDir} (${resolve(dataDir)})`;
  const noData = (what: string) =>
    new OptionError(
      `--data-dir: ${shown} ${what}. Point --data-dir (or SENTINEL_DATA_DIR) at the server's data dir ` +
        "(install.sh uses /var/lib/vpn-sentinel), or start the server once to create it",
    );
  if (!present(dataDir)) throw noData("does not exist");
  requireAccess(dataDir, RW | constants.X_OK, "write in");
  const db = join(dataDir, DATABASE_FILE);
  if (!present(db)) throw noData(`holds no sentinel database (${DATABASE_FILE})`);
  for (const file of [db, `${db}-wal`, `${db}-shm`]) if (present(file)) requireAccess(file, RW, "write");
  if (!opts.key || env.SENTINEL_SERVER_KEY) return;
  const key = join(dataDir, SERVER_KEY_FILE);
  if (!present(key))
    throw new DataDirError(
      `${key} is missing: the server seals client secrets with it. If the server takes its key from ` +
        "SENTINEL_SERVER_KEY, set the same variable for this command; a new key here would make " +
        "secrets the server cannot open",
    );
  requireAccess(key, constants.R_OK, "read");
}

/** Before the server starts: the data dir (or where it will be created) and its files are ours. */
export function checkServerDataDir(dataDir: string): void {
  if (!present(dataDir)) {
    const parent = dirname(resolve(dataDir));
    if (present(parent)) requireAccess(parent, constants.W_OK | constants.X_OK, "create a directory in");
    return;
  }
  requireAccess(dataDir, RW | constants.X_OK, "write in");
  const db = join(dataDir, DATABASE_FILE);
  for (const file of [db, `${db}-wal`, `${db}-shm`]) if (present(file)) requireAccess(file, RW, "write");
  const key = join(dataDir, SERVER_KEY_FILE);
  if (present(key)) requireAccess(key, constants.R_OK, "read");
}

const BUSY = /^SQLITE_(BUSY|LOCKED)/;
const isBusy = (e: unknown) => BUSY.test(String((e as { code?: unknown }).code ?? ""));

export interface BusyRetry {
  /** give up this long after the first busy answer */
  patienceMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

const DEFAULT_RETRY: BusyRetry = { patienceMs: 60_000, sleep: (ms) => Bun.sleep(ms), now: Date.now };

/**
 * Runs `fn` again while SQLite answers busy or locked. SQLite's own busy timeout covers most
 * waits; this covers a writer that holds the database longer (a migration, a long prune on a
 * slow card) and the locks no busy handler waits for. A busy answer means nothing was written,
 * so running a store call (one statement or one transaction) again is safe.
 */
export async function retryWhileBusy<T>(
  fn: () => Promise<T> | T,
  retry: BusyRetry = DEFAULT_RETRY,
): Promise<T> {
  let firstBusyAt: number | null = null;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isBusy(e)) throw e;
      firstBusyAt ??= retry.now();
      if (retry.now() - firstBusyAt >= retry.patienceMs)
        throw new DataDirError(
          `the database stayed locked for ${Math.round(retry.patienceMs / 1000)} s ` +
            "(a long migration or another sentinel command?); try again",
        );
      await retry.sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random()));
    }
  }
}

/**
 * The store with every call on its own repositories (and transaction()) retried while the
 * database is busy. A transaction is retried whole; the calls inside it go to its own
 * repositories, which are not wrapped.
 */
export function patientStore(store: Store, retry: BusyRetry = DEFAULT_RETRY): Store {
  const patient =
    (fn: (...args: unknown[]) => unknown, self: object) =>
    (...args: unknown[]) =>
      retryWhileBusy(() => fn.apply(self, args) as Promise<unknown>, retry);
  const wrap = <T extends object>(target: T, deep: boolean): T =>
    new Proxy(target, {
      get(t, key, receiver) {
        const value = Reflect.get(t, key, receiver);
        if (typeof value === "function") return patient(value as (...a: unknown[]) => unknown, t);
        if (
          deep &&
          key !== "changes" &&
          key !== "leadership" &&
          key !== "sqlite" &&
          typeof value === "object" &&
          value !== null
        )
          return wrap(value, false);
        return value;
      },
    });
  return wrap(store, true);
}

/** Where a command finds the server's data: its data dir, or the database replicas share. */
export interface DataLocation {
  dataDir: string;
  /** a postgres:// URL (--database): the data is there, the data dir holds at most the key */
  database?: string | undefined;
  /** --server-key-file: the key, when it is not server.key in the data dir */
  serverKeyFile?: string | undefined;
}

const locationOf = (o: string | DataLocation): DataLocation => (typeof o === "string" ? { dataDir: o } : o);

async function openLocated(o: DataLocation): Promise<Store> {
  const { openStore } = await import("../server/store/index.ts");
  if (o.database)
    return openStore({
      dataDir: o.dataDir,
      database: o.database,
      postgres: { poolSize: 2, replicaId: `cli:${hostname()}:${process.pid}` },
    });
  return patientStore(await retryWhileBusy(() => openStore({ dataDir: o.dataDir })));
}

/** Opens the store of an existing data dir (see checkDataDir), or the PostgreSQL database, for a CLI command. */
export async function openDataStore(where: string | DataLocation): Promise<Store> {
  const o = locationOf(where);
  if (!o.database) checkDataDir(o.dataDir);
  return openLocated(o);
}

/**
 * The store and the server key; never creates a key. On PostgreSQL the key must be the one the
 * replicas seal with (the database knows its id): a secret sealed with another would open nowhere.
 */
export async function openDataStoreAndKey(
  where: string | DataLocation,
  env: Record<string, string | undefined> = Bun.env,
): Promise<{ store: Store; keyring: Keyring }> {
  const o = locationOf(where);
  const [{ loadKeyring, SERVER_KEY_FILE: keyFileName }, { claimKeyFingerprint }] = await Promise.all([
    import("../server/auth/keyring.ts"),
    import("../server/auth/key-fingerprint.ts"),
  ]);
  if (!o.database) {
    checkDataDir(o.dataDir, { key: !o.serverKeyFile, env });
    const keyring = loadKeyring(o.dataDir, env, o.serverKeyFile);
    return { store: await openLocated(o), keyring };
  }
  const keyFile = o.serverKeyFile ?? join(o.dataDir, keyFileName);
  if (!env.SENTINEL_SERVER_KEY && !present(keyFile))
    throw new DataDirError(
      `${keyFile} is missing: copy the server key from a replica (or use --server-key-file); ` +
        "a new key here would seal secrets the replicas cannot open",
    );
  const store = await openLocated(o);
  try {
    const keyring = loadKeyring(o.dataDir, env, o.serverKeyFile);
    await claimKeyFingerprint(store.meta, keyring.currentId);
    return { store, keyring };
  } catch (e) {
    await store.close();
    throw e;
  }
}
