/**
 * The data dir holds the server key, sealed client secrets, password hashes and sessions. New
 * directories are made 0700 and its files 0600, whatever the umask: SQLite creates its files
 * 0644 minus the umask (and its -wal/-shm with the database's mode), which outside systemd's
 * UMask=0077 leaves them readable by every local user.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) 0700. An existing directory keeps its mode: it may be a
 * path an admin chose on purpose (a group for backups); only world access is reported.
 * Returns a warning for a directory others can enter, else null.
 */
export function ensurePrivateDir(dir: string): string | null {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    return null;
  }
  const mode = statSync(dir).mode & 0o777;
  return mode & 0o007
    ? `the data dir ${dir} is open to every local user (mode ${mode.toString(8)}); run: chmod 700 ${dir}`
    : null;
}

/**
 * Makes files 0600 (those that exist). A file owned by someone else (EPERM) or on a read-only
 * disk (EROFS) is left as it is: opening it is what decides whether we can work with it.
 */
export function makePrivate(...paths: string[]): void {
  for (const path of paths) {
    try {
      chmodSync(path, PRIVATE_FILE_MODE);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== "ENOENT" && code !== "EPERM" && code !== "EROFS") throw e;
    }
  }
}
