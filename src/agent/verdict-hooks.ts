/**
 * `--on-red` / `--on-green`: local commands run when the server's verdict on this client (the
 * 202 answer's `status`) turns red, or back to green after red. The server is the judge; the
 * client only reports, and acts on what the server concluded.
 *
 * Rules (docs/operations.md says the same):
 *  - once per change: on-red when the verdict enters red, on-green when it is green again after
 *    a red; a verdict that stays red (or green) runs nothing;
 *  - one hook at a time; a change that arrives while one runs is acted on when it ends, if the
 *    verdict still says so;
 *  - a timeout ends the hook's whole process group (SIGTERM, then SIGKILL);
 *  - back-off, so a repair that does not work cannot loop (restart the VPN, red again, restart
 *    ...): after on-red has run, it runs again only once the back-off has passed, 30 s and then
 *    doubling up to an hour, until the verdict is green again (which resets it); on-green backs
 *    off the same way after a failed run, and a successful run resets it.
 */
import { formatDuration } from "../config/duration.ts";
import type { AgentLogger } from "./agent.ts";
import type { ServerVerdict } from "./sender.ts";

export type HookKind = "on-red" | "on-green";

export interface VerdictHooksOptions {
  onRed?: string | undefined;
  onGreen?: string | undefined;
  timeoutMs: number;
  clientId: string;
  /** the hook's environment before SENTINEL_STATUS, SENTINEL_REASONS and SENTINEL_CLIENT (no secrets) */
  env: Record<string, string | undefined>;
  logger: AgentLogger;
  backoff?: { baseMs: number; maxMs: number };
  now?: () => number;
  /** how long a hook's output is read after it exited (a background child may hold the pipe) */
  drainMs?: number;
}

export const DEFAULT_HOOK_BACKOFF = { baseMs: 30_000, maxMs: 3_600_000 };
/** Output lines of one run that go into the log; the rest is counted. */
const MAX_LINES = 50;
const MAX_LINE_CHARS = 500;
const KILL_GRACE_MS = 5000;

interface HookState {
  command: string;
  /** not run again before this time */
  readyAt: number;
  /** runs since the back-off was last reset */
  strikes: number;
}

export class VerdictHooks {
  private readonly hooks = new Map<HookKind, HookState>();
  private current: ServerVerdict | null = null;
  private redSinceGreen = false;
  private wanted: HookKind | null = null;
  private running: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly backoff: { baseMs: number; maxMs: number };

  constructor(private readonly opts: VerdictHooksOptions) {
    this.now = opts.now ?? Date.now;
    this.backoff = opts.backoff ?? DEFAULT_HOOK_BACKOFF;
    if (opts.onRed) this.hooks.set("on-red", { command: opts.onRed, readyAt: 0, strikes: 0 });
    if (opts.onGreen) this.hooks.set("on-green", { command: opts.onGreen, readyAt: 0, strikes: 0 });
  }

  /** The hook that runs now, if any (tests wait on it). */
  get idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** A verdict the server sent for one of this client's reports. */
  observe(verdict: ServerVerdict): void {
    const before = this.current?.status ?? null;
    this.current = verdict;
    if (verdict.status === "red") {
      if (before !== "red") this.want("on-red");
      this.redSinceGreen = true;
    } else if (verdict.status === "green") {
      // the repair held: on-red may run at once the next time
      const red = this.hooks.get("on-red");
      if (red) Object.assign(red, { readyAt: 0, strikes: 0 });
      if (this.redSinceGreen) this.want("on-green");
      this.redSinceGreen = false;
    }
  }

  /** No more runs; a hook that runs now is left to finish (ending a repair half-way is worse). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private want(kind: HookKind): void {
    if (!this.hooks.has(kind)) return;
    this.wanted = kind;
    this.pump();
  }

  /** Runs the wanted hook when nothing runs, the verdict still calls for it and its back-off allows. */
  private pump(): void {
    if (this.stopped || this.running || this.wanted === null) return;
    const kind = this.wanted;
    const hook = this.hooks.get(kind) as HookState;
    if (this.current?.status !== (kind === "on-red" ? "red" : "green")) {
      this.wanted = null; // the verdict changed back meanwhile: nothing to act on
      return;
    }
    const wait = hook.readyAt - this.now();
    if (wait > 0) {
      if (this.timer) return;
      const why =
        kind === "on-red"
          ? `it ran ${hook.strikes} time(s) without the verdict turning green`
          : `it failed ${hook.strikes} time(s) in a row`;
      this.opts.logger.warn(`${kind} hook held back for ${Math.ceil(wait / 1000)} s: ${why}`);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
      return;
    }
    this.wanted = null;
    const verdict = this.current;
    this.running = this.run(kind, hook, verdict).finally(() => {
      this.running = null;
      this.pump();
    });
  }

  private async run(kind: HookKind, hook: HookState, verdict: ServerVerdict): Promise<void> {
    const { logger } = this.opts;
    const started = this.now();
    // on-red counts every run, from its start, until a green verdict resets it
    if (kind === "on-red") this.strike(hook, started);
    logger.info(`${kind} hook: running (the server says ${verdict.status}: ${verdict.reasons.join(" ")})`);
    const outcome = await runHook(hook.command, this.environment(verdict), this.opts.timeoutMs, {
      drainMs: this.opts.drainMs ?? 200,
      onLine: (line) => logger.info(`${kind} hook: ${line}`),
    });
    const took = `${((this.now() - started) / 1000).toFixed(1)} s`;
    // on-green counts its failures only
    if (kind === "on-green") {
      if (outcome.ok) Object.assign(hook, { readyAt: 0, strikes: 0 });
      else this.strike(hook, this.now());
    }
    if (outcome.ok) logger.info(`${kind} hook: finished after ${took}`);
    else {
      const wait = Math.max(0, hook.readyAt - this.now());
      logger.warn(
        `${kind} hook failed (${outcome.problem}) after ${took}${wait ? `; not run again for ${Math.ceil(wait / 1000)} s` : ""}`,
      );
    }
  }

  private strike(hook: HookState, at: number): void {
    hook.strikes++;
    hook.readyAt = at + Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (hook.strikes - 1));
  }

  private environment(verdict: ServerVerdict): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.opts.env)) if (v !== undefined) env[k] = v;
    return {
      ...env,
      SENTINEL_STATUS: verdict.status,
      SENTINEL_REASONS: JSON.stringify(verdict.reasons),
      SENTINEL_CLIENT: this.opts.clientId,
    };
  }
}

export type HookOutcome = { ok: true } | { ok: false; problem: string };

/**
 * Runs `command` with /bin/sh in a process group of its own, hands its output to `onLine` line
 * by line (at most MAX_LINES), and ends the group when `timeoutMs` passes.
 */
export async function runHook(
  command: string,
  env: Record<string, string>,
  timeoutMs: number,
  opts: { onLine: (line: string) => void; drainMs: number },
): Promise<HookOutcome> {
  let child: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
  try {
    child = Bun.spawn(["/bin/sh", "-c", command], {
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
  } catch (e) {
    return { ok: false, problem: `could not start: ${(e as Error).message}` };
  }
  let lines = 0;
  const line = (text: string) => {
    if (++lines <= MAX_LINES)
      opts.onLine(text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)}…` : text);
  };
  const readers = [child.stdout, child.stderr].map((stream) => readLines(stream, line));
  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is gone already
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup("SIGTERM");
    setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS).unref();
  }, timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  // A child the hook started in the background may keep the pipes open: read what is there, then stop.
  await Promise.race([Promise.all(readers.map((r) => r.done)), Bun.sleep(opts.drainMs)]);
  for (const r of readers) r.cancel();
  if (lines > MAX_LINES) opts.onLine(`(${lines - MAX_LINES} more line(s) not logged)`);
  if (timedOut) return { ok: false, problem: `timed out after ${formatDuration(timeoutMs)}, stopped` };
  if (code !== 0)
    return {
      ok: false,
      problem: child.signalCode ? `ended by ${child.signalCode}` : `exit status ${code}`,
    };
  return { ok: true };
}

function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  const done = (async () => {
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        rest += decoder.decode(value, { stream: true });
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        for (const p of parts) if (p.trim()) onLine(p.trimEnd());
      }
    } catch {
      // cancelled
    }
    if (rest.trim()) onLine(rest.trimEnd());
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}
