/**
 * StorageHealth: what storage errors at run time say about the database, for /readyz and the
 * log. Every place that turns a storage error into "try later" (a report's 503, a sweeper
 * pass, a failed group commit) reports it here:
 * - a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB) is remembered until the process ends, since
 *   it does not heal by waiting: /readyz stays red (the start-up integrity check decides again
 *   after a restart);
 * - the log gets one line per place and reason a minute, with a count of the ones held back,
 *   instead of one per request or per sweeper pass.
 */
import type { Logger } from "../cli/common.ts";
import { isCorruption, storageFailure } from "./store/index.ts";

export interface Damage {
  /** when the first corruption error was seen */
  since: number;
  /** SQLite's words, e.g. "database disk image is malformed" */
  detail: string;
}

export interface StorageHealthDeps {
  logger: Logger;
  now: () => number;
  /** the database file, named in the log */
  database?: string;
  /** one log line per place and reason this often (default 1 min) */
  logEveryMs?: number;
}

export class StorageHealth {
  private damaged: Damage | null = null;
  private readonly logged = new Map<string, { at: number; held: number }>();

  constructor(private readonly deps: StorageHealthDeps) {}

  /**
   * A storage error met at `where` (what was not done, e.g. "report not stored (503)"): logged
   * at most once a minute there, corruption remembered. Returns its short reason, or null when
   * `e` is no storage failure (the caller handles it as a bug).
   */
  failed(where: string, e: unknown): string | null {
    const reason = storageFailure(e);
    if (reason === null) return null;
    const now = this.deps.now();
    const detail = (e as Error).message;
    if (isCorruption(e) && this.damaged === null) {
      this.damaged = { since: now, detail };
      this.deps.logger.error(
        `the database${this.deps.database ? ` ${this.deps.database}` : ""} is damaged (${detail}): reports get 503 and /readyz is red until it is restored from a backup (stop the server, then \`sentinel restore\`; see "Recovery" in docs/operations.md)`,
      );
    }
    const key = `${where}\u0000${reason}`;
    const last = this.logged.get(key);
    if (last && now - last.at < (this.deps.logEveryMs ?? 60_000)) {
      last.held++;
      return reason;
    }
    const held = last?.held ? ` (${last.held} more like it since the last line)` : "";
    this.deps.logger.error(`${where}: ${reason}: ${detail}${held}`);
    this.logged.set(key, { at: now, held: 0 });
    return reason;
  }

  /** Corruption seen since the start, or null. */
  damage(): Damage | null {
    return this.damaged;
  }
}
