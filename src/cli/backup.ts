/**
 * `sentinel backup FILE`: a consistent copy of the database while the server keeps running
 * (VACUUM INTO reads one snapshot). The server key is not in it, on purpose: keep the key apart
 * from the backups, so a stolen backup cannot forge reports.
 */
import { chmodSync, existsSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { commonSpecs, loadOptions } from "./common.ts";
import { dataDirSpecs } from "./server-options.ts";

export const backupSpecs = {
  ...dataDirSpecs,
  config: commonSpecs.config,
} satisfies OptionSpecs;

export const POSTGRES_BACKUP_HINT =
  "the database is PostgreSQL (--database): back it up with pg_dump, e.g. " +
  'pg_dump --format=custom --file sentinel-$(date +%F).dump "$SENTINEL_DATABASE" (restore with pg_restore); ' +
  "keep a copy of the server key apart from the dumps (docs/operations.md, High availability with PostgreSQL)";

/** Writes the backup next to its destination first, so a crash never leaves half a file under the real name. */
export async function backupDataDir(dataDir: string, file: string): Promise<void> {
  const { openStore, DATABASE_FILE } = await import("../server/store/index.ts");
  if (!existsSync(join(dataDir, DATABASE_FILE)))
    throw new OptionError(`no database in ${dataDir} (is --data-dir right?)`);
  const target = resolve(file);
  if (existsSync(target))
    throw new OptionError(`${file} exists; choose a new file name (a backup never overwrites)`);
  const partial = join(dirname(target), `.${Date.now()}.sentinel-backup.partial`);
  const store = await openStore({ dataDir });
  try {
    if (!store.sqlite) throw new OptionError(POSTGRES_BACKUP_HINT);
    await store.sqlite.backupTo(partial);
    // client secrets are sealed and tokens hashed, but user names and history are private
    chmodSync(partial, 0o600);
    renameSync(partial, target);
  } finally {
    rmSync(partial, { force: true });
    await store.close();
  }
}

export default defineCommand({
  meta: {
    name: "backup",
    description: "Write a consistent copy of the database to FILE; safe while the server runs",
  },
  args: {
    file: { type: "positional", description: "Backup file to create", required: true },
    ...cittyArgs(backupSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(backupSpecs, rawArgs, "server");
    if (positionals.length !== 1) throw new OptionError("expected exactly one backup FILE");
    const file = positionals[0] as string;
    if (options.database) throw new OptionError(POSTGRES_BACKUP_HINT);
    await backupDataDir(options.dataDir, file);
    console.log(`Backed up ${options.dataDir} to ${file}.`);
    console.log(
      "The server key (server.key or SENTINEL_SERVER_KEY) is not in it: keep a copy of the key somewhere else.",
    );
  },
});
