/**
 * Backup files: checking one before it replaces the live database (`sentinel restore`).
 * Taking one is Store.backupTo (VACUUM INTO on the live connection).
 */
import { Database } from "bun:sqlite";
import { MIGRATIONS } from "./migrations.ts";

export interface BackupInfo {
  schemaVersion: number;
  clients: number;
  /** the server key ids the client secrets are sealed with ("v1:<keyid>:...") */
  sealedWith: string[];
}

/** Opens `file` read-only and checks it is a sentinel database this version can use. Throws a readable Error otherwise. */
export function inspectBackup(file: string): BackupInfo {
  let db: Database;
  try {
    db = new Database(file, { readonly: true, strict: true });
  } catch (e) {
    throw new Error(`${file} cannot be opened as a database (${(e as Error).message})`);
  }
  try {
    const check = db.query<{ quick_check: string }, []>("PRAGMA quick_check").get();
    if (check?.quick_check !== "ok")
      throw new Error(`${file} is damaged (quick_check: ${check?.quick_check ?? "no answer"})`);
    const v = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (v === 0) throw new Error(`${file} is not a sentinel database (schema version 0)`);
    if (v > MIGRATIONS.length)
      throw new Error(
        `${file} has schema v${v}, newer than this sentinel (v${MIGRATIONS.length}); restore with the newer sentinel`,
      );
    const rows = db
      .query<{ s: string; p: string | null }, []>("SELECT secret_enc AS s, prev_secret_enc AS p FROM clients")
      .all();
    const ids = new Set<string>();
    for (const r of rows) for (const sealed of [r.s, r.p]) if (sealed) ids.add(sealed.split(":")[1] ?? "?");
    return { schemaVersion: v, clients: rows.length, sealedWith: [...ids].sort() };
  } catch (e) {
    if ((e as { code?: string }).code === "SQLITE_NOTADB") throw new Error(`${file} is not a database`);
    throw e;
  } finally {
    db.close();
  }
}
