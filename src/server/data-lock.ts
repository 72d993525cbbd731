/**
 * The data directory's owner lock: a running server keeps `server.pid` in its data dir so
 * `sentinel restore` and `sentinel server-key rotate` can refuse to pull the database or the key
 * from under it, and a second server on the same directory refuses to start.
 *
 * A pid file, not flock: it works on every filesystem and is readable by people. A crash
 * leaves the file behind, so a lock counts only while its process lives, and a recorded
 * process start time tells a reused pid from the original owner.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { PRIVATE_FILE_MODE } from "./private-files.ts";

export const LOCK_FILE = "server.pid";

export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** /proc/<pid>/stat start time in clock ticks since boot; null where /proc is missing */
  procStart: number | null;
  /** distinguishes two locks taken by one process (tests run several servers in one process) */
  token: string;
}

export class DataDirBusyError extends Error {
  readonly code = "data_dir_busy";
  readonly exitCode = 1;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces). */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.hostname !== hostname()) return true; // a shared filesystem: we cannot tell, so be careful
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as { code?: string }).code !== "EPERM") return false;
  }
  const start = processStartTicks(owner.pid);
  return owner.procStart === null || start === null || start === owner.procStart;
}

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(file, "utf8")) as LockOwner;
    return typeof o.pid === "number" ? o : null;
  } catch {
    return null;
  }
}

/** The live server that holds the data dir, or null (no lock, or the holder is gone). */
export function dataDirOwner(dataDir: string): LockOwner | null {
  const owner = readOwner(join(dataDir, LOCK_FILE));
  return owner && isAlive(owner) ? owner : null;
}

export const busyMessage = (dataDir: string, o: LockOwner) =>
  `a sentinel server (pid ${o.pid} on ${o.hostname}, since ${o.startedAt}) uses ${dataDir}; stop it first ` +
  `(systemctl stop vpn-sentinel-server). If no server runs, delete ${join(dataDir, LOCK_FILE)}.`;

/**
 * Takes the lock or throws DataDirBusyError. The file appears atomically (hard link of a
 * complete temp file), so a reader never sees half a lock.
 */
export function acquireDataLock(dataDir: string): { owner: LockOwner; release(): void } {
  const file = join(dataDir, LOCK_FILE);
  const owner: LockOwner = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    procStart: processStartTicks(process.pid),
    token: crypto.randomUUID(),
  };
  const tmp = `${file}.${owner.token}`;
  writeFileSync(tmp, `${JSON.stringify(owner)}\n`, { mode: PRIVATE_FILE_MODE });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== "EEXIST" || attempt > 0) throw e;
        const held = readOwner(file);
        // Our own process may take over its own lock: a test restarts a server in-process.
        if (held && held.pid !== process.pid && isAlive(held))
          throw new DataDirBusyError(busyMessage(dataDir, held));
        unlinkSync(file);
      }
    }
  } finally {
    unlinkSync(tmp);
  }
  return {
    owner,
    release() {
      // only our own lock: a successor in this process may have taken it over
      try {
        if (readOwner(file)?.token === owner.token) unlinkSync(file);
      } catch {
        // a read-only or vanished data dir: the lock goes stale when this process ends
      }
    },
  };
}
