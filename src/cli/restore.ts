/**
 * `sentinel restore FILE`: replaces the database with a backup. Refuses while a server uses the
 * data dir (its server.pid lock), checks the backup first, and keeps the replaced database as
 * sentinel.db.before-restore-<time> instead of deleting it.
 */
import { copyFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { commonSpecs, loadOptions } from "./common.ts";
import { dataDirSpecs } from "./server-options.ts";

export const restoreSpecs = {
  ...dataDirSpecs,
  config: commonSpecs.config,
} satisfies OptionSpecs;

export interface RestoreOutcome {
  clients: number;
  schemaVersion: number;
  /** where the replaced database went; null when there was none */
  keptAs: string | null;
  /** key ids the backup's secrets are sealed with that this data dir cannot open */
  missingKeys: string[];
}

export async function restoreDataDir(
  dataDir: string,
  file: string,
  env: Record<string, string | undefined> = Bun.env,
): Promise<RestoreOutcome> {
  const [{ DATABASE_FILE, inspectBackup }, lock, { loadKeyring, keyId, parseServerKey, SERVER_KEY_FILE }] =
    await Promise.all([
      import("../server/store/index.ts"),
      import("../server/data-lock.ts"),
      import("../server/auth/keyring.ts"),
    ]);
  if (!existsSync(file)) throw new OptionError(`${file} does not exist`);
  let info: ReturnType<typeof inspectBackup>;
  try {
    info = inspectBackup(file);
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
  // Taking the lock ourselves means a server cannot start halfway through the swap.
  let held: { release(): void };
  try {
    held = lock.acquireDataLock(dataDir);
  } catch (e) {
    if (e instanceof lock.DataDirBusyError)
      throw Object.assign(new Error(`refusing to restore: ${e.message}`), { exitCode: 1 });
    throw e;
  }
  try {
    const db = join(dataDir, DATABASE_FILE);
    let keptAs: string | null = null;
    if (existsSync(db)) {
      keptAs = `${db}.before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      renameSync(db, keptAs);
    }
    // the old WAL belongs to the old file: left beside the new one it would be replayed into it
    for (const side of ["-wal", "-shm"]) {
      if (keptAs && existsSync(db + side)) renameSync(db + side, keptAs + side);
      rmSync(db + side, { force: true });
    }
    copyFileSync(file, `${db}.restoring`);
    renameSync(`${db}.restoring`, db);
    const loaded = new Set<string>();
    const keyFile = join(dataDir, SERVER_KEY_FILE);
    if (env.SENTINEL_SERVER_KEY || existsSync(keyFile)) {
      loaded.add(loadKeyring(dataDir, env).currentId);
      for (const [v, origin] of [
        [env.SENTINEL_PREVIOUS_SERVER_KEY, "SENTINEL_PREVIOUS_SERVER_KEY"],
        [
          existsSync(`${keyFile}.previous`) ? await Bun.file(`${keyFile}.previous`).text() : undefined,
          `${keyFile}.previous`,
        ],
      ] as const)
        if (v) loaded.add(keyId(parseServerKey(v, origin)));
    }
    return {
      clients: info.clients,
      schemaVersion: info.schemaVersion,
      keptAs,
      missingKeys: info.sealedWith.filter((k) => !loaded.has(k)),
    };
  } finally {
    held.release();
  }
}

export default defineCommand({
  meta: {
    name: "restore",
    description: "Replace the database with a backup FILE (the server must be stopped)",
  },
  args: {
    file: { type: "positional", description: "Backup file made by `sentinel backup`", required: true },
    ...cittyArgs(restoreSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(restoreSpecs, rawArgs, "server");
    if (positionals.length !== 1) throw new OptionError("expected exactly one backup FILE");
    if (options.database)
      throw new OptionError(
        "the database is PostgreSQL (--database): restore a pg_dump with pg_restore into an empty database, " +
          "with every server stopped (docs/operations.md, High availability with PostgreSQL)",
      );
    const r = await restoreDataDir(options.dataDir, positionals[0] as string);
    console.log(`Restored ${r.clients} client(s) (schema v${r.schemaVersion}) into ${options.dataDir}.`);
    if (r.keptAs) console.log(`The replaced database is kept as ${r.keptAs}.`);
    if (r.missingKeys.length)
      console.log(
        `Warning: client secrets in the backup are sealed with server key ${r.missingKeys.join(", ")}, which this data dir does not hold. ` +
          "Put that key in server.key (or server.key.previous) before starting the server, or those clients are refused.",
      );
  },
});
