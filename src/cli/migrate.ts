/**
 * `sentinel migrate --from SOURCE --to TARGET`: copies the whole database between engines, a
 * data directory (SQLite) one way and a postgres:// URL the other. The target must be empty;
 * the servers must be stopped (a running server on the source data dir, or a replica that leads
 * on the source database, is refused: what it wrote after the copy began would be lost).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { DATABASE_FILE, isPostgresUrl } from "../server/store/index.ts";
import { loadOptions } from "./common.ts";

export const migrateSpecs = {
  from: {
    kind: "string",
    description: "Copy from: a data directory (SQLite) or a postgres:// URL",
    valueHint: "DIR|URL",
    flagOnly: true,
    secret: true, // a URL may carry a password
  },
  to: {
    kind: "string",
    description: "Copy into (must be empty): a data directory or a postgres:// URL",
    valueHint: "DIR|URL",
    flagOnly: true,
    secret: true,
  },
} satisfies OptionSpecs;

/** A URL as it may appear in output: without its password. */
export function redact(where: string): string {
  if (!isPostgresUrl(where)) return where;
  try {
    const url = new URL(where);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "a postgres:// URL";
  }
}

export interface MigrateOutcome {
  tables: { table: string; rows: number }[];
}

export async function migrateDatabase(
  from: string,
  to: string,
  progress: (line: string) => void = () => {},
): Promise<MigrateOutcome> {
  const [{ copyDatabase, runningReplica, CopyRefused }, lock, { ensurePrivateDir }] = await Promise.all([
    import("../server/store/copy.ts"),
    import("../server/data-lock.ts"),
    import("../server/private-files.ts"),
  ]);
  if (isPostgresUrl(from) === isPostgresUrl(to))
    throw new OptionError("--from and --to must be one data directory and one postgres:// URL");
  const held: { release(): void }[] = [];
  const locate = (where: string, role: "source" | "target") => {
    if (isPostgresUrl(where)) return { engine: "postgres" as const, url: where };
    const path = join(where, DATABASE_FILE);
    if (role === "source" && !existsSync(path))
      throw new OptionError(`no database in ${where} (is --from right?)`);
    if (role === "target") ensurePrivateDir(where);
    // taking the data dir's lock keeps a server from starting on it while we copy
    try {
      held.push(lock.acquireDataLock(where));
    } catch (e) {
      if (e instanceof lock.DataDirBusyError)
        throw Object.assign(new Error(`refusing to migrate: ${e.message}`), { exitCode: 1 });
      throw e;
    }
    return { engine: "sqlite" as const, path };
  };
  try {
    const source = locate(from, "source");
    const target = locate(to, "target");
    if (source.engine === "postgres") {
      const leader = await runningReplica(source.url);
      if (leader)
        throw Object.assign(
          new Error(
            `refusing to migrate: replica ${leader} is running on the source database; stop every server first`,
          ),
          { exitCode: 1 },
        );
    }
    try {
      const tables = await copyDatabase(source, target, (table, rows) => {
        if (rows % 10_000 === 0) progress(`  ${table}: ${rows} rows so far`);
      });
      return { tables };
    } catch (e) {
      if (e instanceof CopyRefused)
        throw Object.assign(new Error(`refusing to migrate: ${e.message}`), { exitCode: 1 });
      throw e;
    }
  } finally {
    for (const h of held) h.release();
  }
}

export default defineCommand({
  meta: {
    name: "migrate",
    description:
      "Copy the whole database between SQLite (a data directory) and PostgreSQL (a URL) into an empty target; stop the servers first",
  },
  args: cittyArgs(migrateSpecs),
  async run({ rawArgs }) {
    const { options } = loadOptions(migrateSpecs, rawArgs, "migrate");
    if (!options.from || !options.to) throw new OptionError("both --from and --to are required");
    console.log(`Copying ${redact(options.from)} to ${redact(options.to)} ...`);
    const { tables } = await migrateDatabase(options.from, options.to, (line) => console.log(line));
    for (const { table, rows } of tables) console.log(`  ${table.padEnd(16)} ${rows}`);
    console.log("Every table copied and its row count verified.");
    console.log(
      "Client secrets are sealed with the server key, which is not in the database: every server on the new " +
        "database needs the same key (server.key in its data dir, or --server-key-file).",
    );
  },
});
