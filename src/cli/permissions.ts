/**
 * Permission problems in one line that names the path, its owner and the fix, instead of
 * SQLite's "unable to open database file" or a bare EACCES.
 */
import { accessSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";

/** A file or directory this user may not use: fixed outside sentinel (ownership, modes). */
export class PermissionError extends Error {
  readonly code = "permission_denied";
  readonly exitCode = 1;
}

/** The account name of a uid, from /etc/passwd; "uid N" where there is none. */
export function accountName(uid: number, passwd = "/etc/passwd"): string {
  try {
    for (const line of readFileSync(passwd, "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // no passwd file (a minimal container): the number must do
  }
  return `uid ${uid}`;
}

/**
 * Says who may fix a path this process cannot use: "…/sentinel.db, which belongs to vpn-sentinel
 * (mode 0600), and this runs as alice; run it as vpn-sentinel: sudo -u vpn-sentinel sentinel ...".
 */
export function permissionMessage(path: string, need: string): string {
  const shown = resolve(path);
  const me = accountName(process.getuid?.() ?? -1);
  let owner: string | null = null;
  let mode = "";
  try {
    const st = statSync(path);
    owner = accountName(st.uid);
    mode = ` (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})`;
  } catch {
    // the parent hides it: name the path all the same
  }
  const asOwner =
    owner === null || owner.startsWith("uid ")
      ? "as its owner"
      : owner === "root"
        ? "with sudo (sudo sentinel ...)"
        : `as ${owner} (sudo -u ${owner} sentinel ...)`;
  return (
    `permission denied: this command needs to ${need} ${shown}, which belongs to ${owner ?? "another user"}${mode}, ` +
    `and it runs as ${me}. Run it ${asOwner}, or give ${me} access to ${shown}`
  );
}

export const isPermissionError = (e: unknown) => {
  const code = (e as { code?: string }).code;
  return code === "EACCES" || code === "EPERM";
};

/**
 * Throws DataDirAccessError when this process may not use `path` in the `mode` asked. Other
 * failures (a read-only disk, say) are left to the open that follows, which says what they mean.
 */
export function requireAccess(path: string, mode: number, need: string): void {
  try {
    accessSync(path, mode);
  } catch (e) {
    if (isPermissionError(e)) throw new PermissionError(permissionMessage(path, need));
  }
}
