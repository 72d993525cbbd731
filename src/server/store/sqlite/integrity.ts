/**
 * Checks made when the database is opened, so a damaged file stops sentinel with one line that
 * names the file and the way back (a backup), instead of starting, saying "ready", and failing
 * every write that touches a bad page:
 * - A file that is not SQLite's (a damaged header) and a zero-length database beside an
 *   existing server.key (data that was lost, e.g. a truncated copy, not a first start: a new
 *   empty database would silently replace it) are refused by every opener.
 * - PRAGMA quick_check reads every page and b-tree of the file (not the index contents, which
 *   integrity_check also compares): the server runs it at start. It costs a read of the whole
 *   file (measured in docs/operations.md), too much for every CLI command on a Raspberry Pi.
 */
import type { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { SERVER_KEY_FILE } from "../../auth/keyring.ts";
import { isCorruption } from "../errors.ts";

export class DatabaseDamagedError extends Error {
  readonly code = "database_damaged";
  readonly exitCode = 1;
}

const recovery = (path: string) =>
  `restore the last backup with \`sentinel restore BACKUP_FILE --data-dir ${dirname(path)}\` (see "Recovery" in docs/operations.md)`;

/** Opens `path` with `open` and checks it; throws DatabaseDamagedError when it is damaged. */
export function openIntactDatabase(
  path: string,
  open: (path: string) => Database,
  opts: { quickCheck?: boolean } = {},
): Database {
  if (path === ":memory:") return open(path);
  refuseEmptiedDatabase(path);
  let db: Database;
  try {
    db = open(path);
  } catch (e) {
    if (isCorruption(e)) throw damaged(path, (e as Error).message);
    throw e;
  }
  const problems = opts.quickCheck ? quickCheck(db) : null;
  if (problems !== null) {
    db.close();
    throw damaged(path, problems);
  }
  return db;
}

/** null when the file is sound, else what PRAGMA quick_check found (it may also throw SQLITE_CORRUPT). */
export function quickCheck(db: Database): string | null {
  let rows: { quick_check: string }[];
  try {
    rows = db.query<{ quick_check: string }, []>("PRAGMA quick_check(3)").all();
  } catch (e) {
    if (isCorruption(e)) return (e as Error).message;
    throw e;
  }
  const found = rows.map((r) => r.quick_check).filter((r) => r !== "ok");
  if (found.length === 0) return null;
  return found
    .join("; ")
    .replace(/\*\*\* in database \w+ \*\*\*\s*/g, "")
    .replace(/\s*\n\s*/g, "; ");
}

function refuseEmptiedDatabase(path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return; // no file yet: a first start
  }
  if (size === 0 && existsSync(join(dirname(path), SERVER_KEY_FILE)))
    throw new DatabaseDamagedError(
      `the database ${path} is empty (0 bytes) although ${SERVER_KEY_FILE} beside it shows this data dir held data; refusing to start a new database over it: ${recovery(path)}, or delete the empty file to start afresh`,
    );
}

const damaged = (path: string, detail: string) =>
  new DatabaseDamagedError(
    `the database ${path} is damaged (${detail}); sentinel will not use it: ${recovery(path)}`,
  );
