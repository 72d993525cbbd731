/**
 * OutboxDispatcher: delivers outbox rows through their channels, away from the request path.
 *
 * - Each lane (channel target) delivers in id order; lanes run independently, so a 429, a slow
 *   or hung chat holds back only itself.
 * - Rows are claimed with compare-and-set and a lease: two dispatchers (two processes on one
 *   database) never send the same row at once, and a row left "sending" by a crashed dispatcher
 *   is claimable again when its lease runs out.
 * - Delivery is at-least-once: a crash after the channel accepted a message but before the row
 *   was marked delivered sends it again after the lease. `parts_sent` narrows that window to one
 *   part of a split message; the idempotency key makes enqueueing exactly-once and lets channels
 *   that support it (webhooks) deduplicate. See docs/alerts.md.
 */
import type { Logger } from "../../cli/common.ts";
import type { Broker } from "../broker.ts";
import type { OutboxRow, OutboxStatus } from "../store/outbox.ts";
import type { Store } from "../store/types.ts";
import { GIVE_UP_AFTER_MS, pastGiveUp, retryDelayMs } from "./backoff.ts";
import type { Channel } from "./channel.ts";
import { Pacer } from "./pacing.ts";
import type { Notification } from "./types.ts";

export interface DispatcherDeps {
  store: Store;
  channels: readonly Channel[];
  now: () => number;
  logger: Logger;
  /** wakes the dispatcher on "outbox.enqueued" */
  broker?: Broker;
  random?: () => number;
  /** how long a claim holds before another dispatcher may take the row over (default 2 min) */
  leaseMs?: number;
  /** give up (mark failed) a row this old (default 24 h) */
  maxAgeMs?: number;
  /** after a target refused us (bot blocked/kicked), try it again only after this long (default 10 min) */
  unreachablePauseMs?: number;
  /** longest sleep between checks when nothing is due (default 30 s) */
  idleMs?: number;
}

export interface LaneStatus {
  channel: string;
  target: string;
  lastDeliveredAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** set while the target refuses delivery (e.g. the bot was blocked or removed from the chat) */
  pausedUntil: number | null;
  /**
   * set when the service said the configuration is wrong or gone (401/403/404/410, SMTP 5xx):
   * nothing more is sent to the target until the next start; its queued rows wait
   */
  disabled: string | null;
}

export interface ChannelStatus {
  name: string;
  /** false when the configuration is invalid or a target is refusing delivery */
  ok: boolean;
  problems: string[];
  lanes: LaneStatus[];
}

const laneKey = (channel: string, target: string) => `${channel}\u0000${target}`;

export class OutboxDispatcher {
  /** identifies this instance's claims */
  readonly owner = crypto.randomUUID();
  private readonly channels: Map<string, Channel>;
  private readonly pacer: Pacer;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly lanes = new Map<string, LaneStatus>();
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly leaseMs: number;
  private readonly maxAgeMs: number;
  private readonly pauseMs: number;
  private readonly idleMs: number;

  constructor(private readonly deps: DispatcherDeps) {
    this.channels = new Map(deps.channels.map((c) => [c.name, c]));
    this.pacer = new Pacer((lane) => {
      const [name, target] = lane.split("\u0000") as [string, string];
      return this.channels.get(name)?.pace(target) ?? { minIntervalMs: 0 };
    });
    this.leaseMs = deps.leaseMs ?? 120_000;
    this.maxAgeMs = deps.maxAgeMs ?? GIVE_UP_AFTER_MS;
    this.pauseMs = deps.unreachablePauseMs ?? 10 * 60_000;
    this.idleMs = deps.idleMs ?? 30_000;
    for (const c of deps.channels)
      for (const t of c.targets())
        this.lanes.set(laneKey(c.name, t), {
          channel: c.name,
          target: t,
          lastDeliveredAt: null,
          lastError: null,
          lastErrorAt: null,
          pausedUntil: null,
          disabled: null,
        });
  }

  /** Runs until stop(): delivers what is due, sleeps until the next due row or a wake-up. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.deps.broker?.subscribe("outbox.enqueued", () => this.wake()) ?? null;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.wake();
    await this.loopDone;
    await Promise.allSettled([...this.inflight.values()]);
  }

  wake(): void {
    this.wakeUp?.();
  }

  /** One pass: claims every due lane head and waits for those deliveries (tests drive time with it). */
  async tick(): Promise<void> {
    this.launch();
    await Promise.allSettled([...this.inflight.values()]);
  }

  status(): ChannelStatus[] {
    const now = this.deps.now();
    return [...this.channels.values()].map((c) => {
      const lanes = [...this.lanes.values()].filter((l) => l.channel === c.name).map((l) => ({ ...l }));
      const problems = [
        ...c.validateConfig(),
        ...lanes
          .filter((l) => l.pausedUntil !== null && l.pausedUntil > now)
          .map((l) => `${l.target}: ${l.lastError}`),
        ...lanes
          .filter((l) => l.disabled !== null)
          .map((l) => `${l.target}: stopped, ${l.disabled} (fix the channel and restart)`),
      ];
      return { name: c.name, ok: problems.length === 0, problems, lanes };
    });
  }

  queue(): Record<OutboxStatus, number> {
    return this.deps.store.outbox.countByStatus();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let wait = this.idleMs;
      try {
        const now = this.deps.now();
        const soonest = [this.launch(), this.deps.store.outbox.nextDueAt(now)].filter(
          (t): t is number => t !== null && t > now,
        );
        if (soonest.length) wait = Math.min(wait, Math.min(...soonest) - now);
      } catch (e) {
        // a locked or broken database must not end the loop; the next round retries
        this.deps.logger.error(`outbox: dispatch round failed: ${(e as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, wait));
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  /** Claims and starts delivering due lane heads; returns the earliest time a skipped lane may go. */
  private launch(): number | null {
    const { outbox } = this.deps.store;
    const now = this.deps.now();
    let next: number | null = null;
    const later = (t: number) => {
      next = next === null ? t : Math.min(next, t);
    };
    for (const head of outbox.dueHeads(now, 200)) {
      const lane = laneKey(head.channel, head.target);
      if (this.inflight.has(lane) || this.lanes.get(lane)?.disabled) continue;
      const paused = this.lanes.get(lane)?.pausedUntil ?? null;
      if (paused !== null && paused > now) {
        later(paused);
        continue;
      }
      const delay = this.pacer.delay(lane, now);
      if (delay > 0) {
        later(now + delay);
        continue;
      }
      if (!outbox.claim(head.id, this.owner, now, now + this.leaseMs)) continue;
      const delivery = this.deliver(head, lane)
        .catch((e) =>
          this.deps.logger.error(
            `outbox: delivering #${head.id} failed unexpectedly: ${(e as Error).message}`,
          ),
        )
        .finally(() => {
          this.inflight.delete(lane);
          this.wake();
        });
      this.inflight.set(lane, delivery);
    }
    return next;
  }

  private async deliver(row: OutboxRow, lane: string): Promise<void> {
    const { outbox } = this.deps.store;
    const channel = this.channels.get(row.channel);
    if (!channel) {
      outbox.fail(row.id, this.owner, `channel ${row.channel} is not configured`);
      return;
    }
    let notification = row.payload as Notification;
    if (row.kind === "digest") {
      const items = outbox.digestMembers(row.id).map((m) => m.payload as Notification);
      notification = { ...notification, items };
    }
    let messages: unknown[];
    try {
      messages = channel.render(notification, row.target, { key: row.idempotencyKey });
    } catch (e) {
      outbox.fail(row.id, this.owner, `rendering failed: ${(e as Error).message}`);
      return;
    }
    for (let part = row.partsSent; part < messages.length; part++) {
      const now = this.deps.now();
      const delay = this.pacer.delay(lane, now);
      if (delay > 0) {
        // the rest of a split message waits its turn without holding the claim
        outbox.release(row.id, this.owner, { at: now + delay, countAttempt: false, error: null });
        return;
      }
      try {
        await channel.send(row.target, messages[part]);
      } catch (err) {
        this.failed(row, channel, err);
        return;
      }
      this.pacer.record(lane, this.deps.now());
      if (!outbox.progress(row.id, this.owner, part + 1, this.deps.now() + this.leaseMs)) {
        this.deps.logger.warn(
          `outbox: lost the claim on #${row.id} while sending (lease expired); another dispatcher continues`,
        );
        return;
      }
    }
    if (!outbox.complete(row.id, this.owner, this.deps.now())) {
      this.deps.logger.warn(`outbox: #${row.id} was taken over before it was marked delivered`);
      return;
    }
    const status = this.laneStatus(row);
    if (status.pausedUntil !== null)
      this.deps.logger.info(`outbox: ${row.channel} ${row.target} accepts messages again`);
    Object.assign(status, {
      lastDeliveredAt: this.deps.now(),
      pausedUntil: null,
      lastError: null,
      lastErrorAt: null,
    });
  }

  private failed(row: OutboxRow, channel: Channel, err: unknown): void {
    const { outbox } = this.deps.store;
    const now = this.deps.now();
    const cls = channel.classifyError(err);
    const message = channel.describeError(err);
    const status = this.laneStatus(row);
    Object.assign(status, { lastError: message, lastErrorAt: now });
    if (cls === "disabled") {
      // the row waits (not lost): after the configuration is fixed, the next start sends it
      outbox.release(row.id, this.owner, { at: now, countAttempt: true, error: message });
      status.disabled = message;
      this.deps.logger.error(
        `outbox: ${row.channel} ${row.target} stopped: ${message}; its queued messages wait until the channel is fixed and the server restarted`,
      );
      return;
    }
    if (cls === "permanent" || cls === "unreachable") {
      outbox.fail(row.id, this.owner, message);
      if (cls === "unreachable") {
        // One refused row pauses the lane instead of failing every queued row against it.
        if (status.pausedUntil === null)
          this.deps.logger.error(`outbox: ${row.channel} ${row.target} refuses messages: ${message}`);
        status.pausedUntil = now + this.pauseMs;
      } else this.deps.logger.error(`outbox: #${row.id} (${row.kind}) failed for good: ${message}`);
      return;
    }
    const attempts = row.attempts + 1;
    const at =
      now +
      (typeof cls === "object" ? Math.max(0, cls.retryAfterMs) : retryDelayMs(attempts, this.deps.random));
    if (pastGiveUp(row.createdAt, at, this.maxAgeMs)) {
      outbox.fail(row.id, this.owner, `gave up after ${attempts} attempts: ${message}`);
      this.deps.logger.error(
        `outbox: gave up on #${row.id} (${row.kind}) after ${attempts} attempts: ${message}`,
      );
      return;
    }
    outbox.release(row.id, this.owner, { at, countAttempt: true, error: message });
    this.deps.logger.warn(
      `outbox: #${row.id} to ${row.channel} ${row.target} failed (${message}); retry in ${Math.round((at - now) / 1000)} s`,
    );
  }

  private laneStatus(row: OutboxRow): LaneStatus {
    const key = laneKey(row.channel, row.target);
    let status = this.lanes.get(key);
    if (!status) {
      status = {
        channel: row.channel,
        target: row.target,
        lastDeliveredAt: null,
        lastError: null,
        lastErrorAt: null,
        pausedUntil: null,
        disabled: null,
      };
      this.lanes.set(key, status);
    }
    return status;
  }
}
