/**
 * The spool: every report is written here before it is sent and removed once the server
 * accepted it, so a report survives a down server, a restart or a crash, and reports are
 * replayed in the order they were observed. One file per report ("<16-digit seq>.json"),
 * written atomically (temp file + rename). Bounded: past `max`, the oldest are dropped.
 * When the directory is unusable (read-only, full disk) the spool keeps working in memory.
 */
import { mkdir, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface SpoolEntry {
  /** Zero-padded sequence number: sorts in arrival order. */
  id: string;
  body: string;
  /** false when only in memory (the directory was unusable). */
  onDisk: boolean;
}

export interface SpoolOptions {
  /** Directory; undefined keeps the spool in memory only. */
  dir?: string;
  max: number;
  /** Called with the entries dropped because the spool was full (the agent logs a warning). */
  onDrop?: (dropped: SpoolEntry[]) => void;
  /** Called when the directory cannot be used; the spool continues in memory. */
  onDiskError?: (error: Error) => void;
}

const FILE = /^(\d{16})\.json$/;

export class Spool {
  private entries: SpoolEntry[] = [];
  private seq = 0;

  constructor(private readonly opts: SpoolOptions) {}

  get size(): number {
    return this.entries.length;
  }

  has(id: string): boolean {
    return this.entries.some((e) => e.id === id);
  }

  peek(): SpoolEntry | undefined {
    return this.entries[0];
  }

  list(): readonly SpoolEntry[] {
    return this.entries;
  }

  /** Loads what a previous run left behind (oldest first) and applies the bound. */
  async open(): Promise<void> {
    const dir = this.opts.dir;
    if (!dir) return;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const names = (await readdir(dir)).sort();
      for (const name of names) {
        const m = FILE.exec(name);
        if (!m?.[1]) {
          // a temp file from a write that a crash interrupted
          if (name.endsWith(".tmp")) await unlink(join(dir, name)).catch(() => {});
          continue;
        }
        const body = await readFile(join(dir, name), "utf8").catch(() => null);
        if (body !== null) this.entries.push({ id: m[1], body, onDisk: true });
        this.seq = Math.max(this.seq, Number(m[1]));
      }
    } catch (e) {
      this.opts.onDiskError?.(e as Error);
    }
    await this.trim();
  }

  async push(body: string): Promise<SpoolEntry> {
    this.seq++;
    const id = String(this.seq).padStart(16, "0");
    let onDisk = false;
    if (this.opts.dir) {
      const path = join(this.opts.dir, `${id}.json`);
      try {
        await writeFile(`${path}.tmp`, body, { mode: 0o600 });
        await rename(`${path}.tmp`, path);
        onDisk = true;
      } catch (e) {
        this.opts.onDiskError?.(e as Error);
      }
    }
    const entry = { id, body, onDisk };
    this.entries.push(entry);
    await this.trim();
    return entry;
  }

  async remove(id: string): Promise<void> {
    const i = this.entries.findIndex((e) => e.id === id);
    if (i < 0) return;
    const [entry] = this.entries.splice(i, 1);
    if (entry?.onDisk && this.opts.dir) await unlink(join(this.opts.dir, `${id}.json`)).catch(() => {});
  }

  private async trim(): Promise<void> {
    const excess = this.entries.length - this.opts.max;
    if (excess <= 0) return;
    const dropped = this.entries.slice(0, excess);
    for (const e of dropped) await this.remove(e.id);
    this.opts.onDrop?.(dropped);
  }
}
