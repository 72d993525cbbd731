/**
 * The fsync of a group commit, off the event loop. With synchronous=FULL, SQLite fsyncs the
 * WAL inside COMMIT on the one thread that also parses, verifies and judges reports, the
 * dashboard and the DNS oracle: it stood still 0.2-0.5 ms per commit on a fast virtual disk,
 * milliseconds on an SD card. The report path's group commit therefore
 * commits with synchronous=NORMAL (the WAL frames reach the kernel, not yet the disk) and then
 * calls fdatasync on the WAL file in the thread pool; its reports are answered only after that
 * returns, so a 202 still means "on disk", while the next group is parsed, judged and
 * committed meanwhile. On Linux fdatasync flushes the file whatever descriptor asks, so our own
 * read-only descriptor of the WAL covers the frames SQLite wrote through its own.
 *
 * Checkpoints are safe as they are: with NORMAL, SQLite still syncs the WAL before it copies
 * frames into the database and syncs the database before it reuses the WAL.
 */
import { closeSync, fdatasync, fstatSync, openSync, statSync } from "node:fs";

/** A failed fsync, named as SQLite names its own so store/errors.ts answers 503. */
export class WalSyncError extends Error {
  readonly code = "SQLITE_IOERR_FSYNC";
  constructor(cause: NodeJS.ErrnoException) {
    super(`fdatasync of the database's WAL failed: ${cause.code ?? cause.message}`);
  }
}

export class WalSync {
  private fd: number | null = null;
  private inode = -1;
  /**
   * After a failed fsync the kernel may have dropped the dirty pages and report the next fsync
   * as clean (Linux does): from then on every commit is FULL again, so SQLite sees each failure
   * itself and rolls back what it could not write.
   */
  private failed = false;
  /** the fsync under way, and the one that will start when it ends (shared by its waiters) */
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(private readonly walPath: string) {}

  /** Whether commits may be relaxed to NORMAL and made durable with `sync()`. */
  get usable(): boolean {
    return !this.failed;
  }

  /**
   * Resolves once everything written to the WAL so far is on disk. Callers that arrive while
   * an fsync is under way share the next one (it must start after their commit), so groups
   * committed in quick succession cost one fsync each at most, often less.
   */
  sync(): Promise<void> {
    if (this.running === null) return this.start();
    this.next ??= this.running.then(() => this.start());
    return this.next;
  }

  /**
   * Resolves once the fsyncs under way or queued have ended: what a transaction that wrote
   * nothing needs before it answers, since what it read may have been committed but not yet
   * synced (free when nothing is pending, as for an unchanged legacy keepalive).
   */
  settled(): Promise<void> {
    return this.next ?? this.running ?? Promise.resolve();
  }

  private start(): Promise<void> {
    this.next = null;
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (e) {
      return Promise.reject(this.fail(e as NodeJS.ErrnoException));
    }
    const running = new Promise<void>((resolve, reject) =>
      fdatasync(fd, (e) => (e ? reject(this.fail(e)) : resolve())),
    );
    this.running = running;
    const done = () => {
      if (this.running === running) this.running = null;
    };
    running.then(done, done);
    return running;
  }

  /** After the fsyncs under way (the database is closing: their callers still wait for them). */
  async close(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
    this.dropDescriptor();
  }

  private dropDescriptor(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Our descriptor of the WAL, reopened if SQLite replaced the file (a stat per group: ~1 µs). */
  private descriptor(): number {
    if (this.fd === null || statSync(this.walPath).ino !== this.inode) {
      this.dropDescriptor();
      this.fd = openSync(this.walPath, "r");
      this.inode = fstatSync(this.fd).ino;
    }
    return this.fd;
  }

  private fail(cause: NodeJS.ErrnoException): WalSyncError {
    this.failed = true;
    return new WalSyncError(cause);
  }
}
