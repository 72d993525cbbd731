/**
 * The server's background work, in one place: every service that runs on its own clock starts
 * and stops through this list (src/server/main.ts), instead of each owning a setInterval.
 * Services that act on time (the sweeper, home identity, reminders, delivery) run only in the
 * process that leads; see Store.leadership.
 */
import type { Logger } from "../logger.ts";

export interface BackgroundService {
  readonly name: string;
  start(): void | Promise<void>;
  /** Resolves when the service's work in progress has finished. */
  stop(): Promise<void>;
}

/** A periodic service starts at once (its first run comes one period later). */
export interface PeriodicService extends BackgroundService {
  start(): void;
}

/**
 * A task run every `everyMs`, never two at once (a slow run delays the next one). A failing run
 * is logged, and the next one tries again.
 */
export function periodic(
  name: string,
  everyMs: number,
  task: () => Promise<unknown>,
  logger: Pick<Logger, "error">,
): PeriodicService {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | null = null;
  let stopped = true;
  const tick = () => {
    running = task()
      .then(
        () => {},
        (e) => logger.error(`${name} failed: ${(e as Error).message}`),
      )
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(tick, everyMs);
      });
  };
  return {
    name,
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setTimeout(tick, everyMs);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** Starts services in order and stops them in reverse order. */
export class ServiceList {
  private readonly services: BackgroundService[] = [];
  private started = false;

  constructor(private readonly logger: Pick<Logger, "error" | "debug">) {}

  add(...services: BackgroundService[]): this {
    this.services.push(...services);
    return this;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const s of this.services) await s.start();
  }

  /** Stops every service, even when one fails to stop. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const s of [...this.services].reverse()) {
      try {
        await s.stop();
      } catch (e) {
        this.logger.error(`stopping ${s.name} failed: ${(e as Error).message}`);
      }
    }
  }
}
