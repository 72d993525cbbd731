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
import type { Logger } from "../../logger.ts";
import type { Broker } from "../broker.ts";
import { settlesWithin } from "../settles-within.ts";
import type { OutboxRow, OutboxStatus, Store } from "../store/index.ts";
import { GIVE_UP_AFTER_MS, pastGiveUp, retryDelayMs } from "./backoff.ts";
import type { Channel, ChannelSource } from "./channel.ts";
import { type ChannelHealth, channelHealth } from "./health.ts";
import { Pacer } from "./pacing.ts";
import type { Notification } from "./types.ts";

export interface DispatcherDeps {
  store: Store;
  /** asked at every round: dashboard channels come and go while the server runs */
  channels: ChannelSource;
  /** what a stopped channel's status tells to do (default: fix it and restart) */
  howToFix?: (channel: string) => string;
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
  /** stop(): how long deliveries in flight may take to finish before they are aborted (default 1 s) */
  stopGraceMs?: number;
}

const laneKey = (channel: string, target: string) => `${channel}\u0000${target}`;

export class OutboxDispatcher {
  /** identifies this instance's claims */
  readonly owner = crypto.randomUUID();
  private readonly pacer: Pacer;
  private readonly inflight = new Map<string, Promise<void>>();
  /**
   * lanes whose target refuses us (bot blocked or removed from the chat): not tried before this
   * time. Kept with the channel it was said to: a channel rebuilt from a changed configuration
   * starts afresh.
   */
  private readonly pausedUntil = new Map<string, { channel: Channel; until: number }>();
  /**
   * lanes the service said are misconfigured or gone (401/403/404/410, SMTP 5xx), with its
   * answer: nothing more is sent there until the channel is fixed (a new start, or an edit of
   * a dashboard channel, which builds a new channel object); their queued rows wait
   */
  private readonly disabled = new Map<string, { channel: Channel; why: string }>();
  private running = false;
  /** set by stop(): deliveries still in flight then touch nothing */
  private stopped = false;
  /** aborts the channels' requests in flight when stop() runs out of patience */
  private halt = new AbortController();
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  /** set by wake(): something changed since the current round began */
  private woken = false;
  private unsubscribe: (() => void) | null = null;
  private readonly leaseMs: number;
  private readonly maxAgeMs: number;
  private readonly pauseMs: number;
  private readonly idleMs: number;
  private readonly howToFix: (channel: string) => string;

  constructor(private readonly deps: DispatcherDeps) {
    this.howToFix = deps.howToFix ?? (() => "fix the channel and restart");
    this.pacer = new Pacer((lane) => {
      const [name, target] = lane.split("\u0000") as [string, string];
      return this.channel(name)?.pace(target) ?? { minIntervalMs: 0 };
    });
    this.leaseMs = deps.leaseMs ?? 120_000;
    this.maxAgeMs = deps.maxAgeMs ?? GIVE_UP_AFTER_MS;
    this.pauseMs = deps.unreachablePauseMs ?? 10 * 60_000;
    this.idleMs = deps.idleMs ?? 30_000;
  }

  /** Runs until stop(): delivers what is due, sleeps until the next due row or a wake-up. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    if (this.halt.signal.aborted) this.halt = new AbortController();
    this.unsubscribe = this.deps.broker?.subscribe("outbox.enqueued", () => this.wake()) ?? null;
    this.loopDone = this.loop();
  }

  /**
   * Bounded whatever the channels do: deliveries in flight get stopGraceMs to finish, then
   * their requests are aborted, and every row this dispatcher still holds goes back to the
   * queue, due now, so the next start delivers it without waiting out the lease.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.wake();
    await this.loopDone;
    const inflight = Promise.allSettled([...this.inflight.values()]);
    if (!(await settlesWithin(inflight, this.deps.stopGraceMs ?? 1_000))) {
      this.halt.abort();
      await settlesWithin(inflight, 250);
    }
    this.stopped = true;
    await this.deps.store.outbox.releaseClaims(this.owner, this.deps.now());
  }

  wake(): void {
    // a round in progress reads the outbox before it sleeps: it must not sleep through this
    this.woken = true;
    this.wakeUp?.();
  }

  /** One pass: claims every due lane head and waits for those deliveries (tests drive time with it). */
  async tick(): Promise<void> {
    await this.launch();
    await Promise.allSettled([...this.inflight.values()]);
  }

  private channel(name: string): Channel | undefined {
    return this.deps.channels.list().find((c) => c.name === name);
  }

  /** Why the lane is stopped, while the channel that stopped it is still the one configured. */
  private stoppedBecause(channel: Channel, target: string): string | null {
    const d = this.disabled.get(laneKey(channel.name, target));
    return d && d.channel === channel ? d.why : null;
  }

  private pausedTill(channel: Channel | undefined, lane: string): number | null {
    const p = this.pausedUntil.get(lane);
    return p && p.channel === channel ? p.until : null;
  }

  /** Each channel's state from its stored lanes and queue (see health.ts). */
  async status(): Promise<ChannelHealth[]> {
    const { outbox } = this.deps.store;
    const lanes = await outbox.lanes();
    const queues = await outbox.queues();
    return this.deps.channels.list().map((c) =>
      channelHealth({
        name: c.name,
        problems: [
          ...c.validateConfig(),
          ...c.targets().flatMap((t) => {
            const why = this.stoppedBecause(c, t);
            return why ? [`${t}: stopped, ${why} (${this.howToFix(c.name)})`] : [];
          }),
        ],
        targets: c.targets(),
        lanes,
        queue: queues.get(c.name),
      }),
    );
  }

  /**
   * A message to the lane just got through outside the queue (a test message): what waits out
   * a retry delay or a refusal pause goes now.
   */
  async retryNow(channel: string, target: string): Promise<void> {
    this.pausedUntil.delete(laneKey(channel, target));
    if ((await this.deps.store.outbox.retryNow(channel, target, this.deps.now())) > 0) this.wake();
  }

  queue(): Promise<Record<OutboxStatus, number>> {
    return this.deps.store.outbox.countByStatus();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let wait = this.idleMs;
      this.woken = false;
      try {
        const now = this.deps.now();
        const soonest = [await this.launch(), await this.deps.store.outbox.nextDueAt(now)].filter(
          (t): t is number => t !== null && t > now,
        );
        if (soonest.length) wait = Math.min(wait, Math.min(...soonest) - now);
      } catch (e) {
        // a locked or broken database must not end the loop; the next round retries
        this.deps.logger.error(`outbox: dispatch round failed: ${(e as Error).message}`);
      }
      if (this.woken) continue;
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
  private async launch(): Promise<number | null> {
    const { outbox } = this.deps.store;
    const now = this.deps.now();
    let next: number | null = null;
    const later = (t: number) => {
      next = next === null ? t : Math.min(next, t);
    };
    for (const head of await outbox.dueHeads(now, 200)) {
      const lane = laneKey(head.channel, head.target);
      const channel = this.channel(head.channel);
      if (this.inflight.has(lane) || (channel && this.stoppedBecause(channel, head.target) !== null))
        continue;
      const paused = this.pausedTill(channel, lane);
      if (paused !== null && paused > now) {
        later(paused);
        continue;
      }
      const delay = this.pacer.delay(lane, now);
      if (delay > 0) {
        later(now + delay);
        continue;
      }
      if (!(await outbox.claim(head.id, this.owner, now, now + this.leaseMs))) continue;
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
    const channel = this.channel(row.channel);
    if (!channel) {
      await outbox.fail(row.id, this.owner, `channel ${row.channel} is not configured`);
      return;
    }
    let notification = row.payload as Notification;
    if (row.kind === "digest") {
      const items = (await outbox.digestMembers(row.id)).map((m) => m.payload as Notification);
      notification = { ...notification, items };
    }
    let messages: unknown[];
    try {
      messages = channel.render(notification, row.target, { key: row.idempotencyKey });
    } catch (e) {
      await outbox.fail(row.id, this.owner, `rendering failed: ${(e as Error).message}`);
      return;
    }
    for (let part = row.partsSent; part < messages.length; part++) {
      const now = this.deps.now();
      const delay = this.pacer.delay(lane, now);
      if (delay > 0) {
        // the rest of a split message waits its turn without holding the claim
        await outbox.release(row.id, this.owner, { at: now + delay, countAttempt: false, error: null });
        return;
      }
      try {
        await channel.send(row.target, messages[part], this.halt.signal);
      } catch (err) {
        // aborted by stop(), which gives the row back: not the channel's failure
        if (this.halt.signal.aborted || this.stopped) return;
        await this.failed(row, channel, err);
        return;
      }
      // a channel that ignored the abort answered after stop() released the row
      if (this.stopped) return;
      this.pacer.record(lane, this.deps.now());
      if (!(await outbox.progress(row.id, this.owner, part + 1, this.deps.now() + this.leaseMs))) {
        this.deps.logger.warn(
          `outbox: lost the claim on #${row.id} while sending (lease expired); another dispatcher continues`,
        );
        return;
      }
    }
    if (!(await outbox.complete(row.id, this.owner, this.deps.now()))) {
      this.deps.logger.warn(`outbox: #${row.id} was taken over before it was marked delivered`);
      return;
    }
    if (this.pausedUntil.delete(lane))
      this.deps.logger.info(`outbox: ${row.channel} ${row.target} accepts messages again`);
    await outbox.recordAttempt(row.channel, row.target, this.deps.now(), null);
  }

  private async failed(row: OutboxRow, channel: Channel, err: unknown): Promise<void> {
    const { outbox } = this.deps.store;
    const now = this.deps.now();
    const cls = channel.classifyError(err);
    const message = channel.describeError(err);
    const lane = laneKey(row.channel, row.target);
    await outbox.recordAttempt(row.channel, row.target, now, message);
    if (cls === "disabled") {
      // the row waits (not lost): after the configuration is fixed, the next start sends it
      await outbox.release(row.id, this.owner, { at: now, countAttempt: true, error: message });
      this.disabled.set(lane, { channel, why: message });
      this.deps.logger.error(
        `outbox: ${row.channel} ${row.target} stopped: ${message}; its queued messages wait until the channel is fixed (${this.howToFix(row.channel)})`,
      );
      return;
    }
    if (cls === "permanent" || cls === "unreachable") {
      await outbox.fail(row.id, this.owner, message);
      if (cls === "unreachable") {
        // One refused row pauses the lane instead of failing every queued row against it.
        if (this.pausedTill(channel, lane) === null)
          this.deps.logger.error(`outbox: ${row.channel} ${row.target} refuses messages: ${message}`);
        this.pausedUntil.set(lane, { channel, until: now + this.pauseMs });
      } else this.deps.logger.error(`outbox: #${row.id} (${row.kind}) failed for good: ${message}`);
      return;
    }
    const attempts = row.attempts + 1;
    const at =
      now +
      (typeof cls === "object" ? Math.max(0, cls.retryAfterMs) : retryDelayMs(attempts, this.deps.random));
    if (pastGiveUp(row.createdAt, at, this.maxAgeMs)) {
      await outbox.fail(row.id, this.owner, `gave up after ${attempts} attempts: ${message}`);
      this.deps.logger.error(
        `outbox: gave up on #${row.id} (${row.kind}) after ${attempts} attempts: ${message}`,
      );
      return;
    }
    await outbox.release(row.id, this.owner, { at, countAttempt: true, error: message });
    this.deps.logger.warn(
      `outbox: #${row.id} to ${row.channel} ${row.target} failed (${message}); retry in ${Math.round((at - now) / 1000)} s`,
    );
  }
}
