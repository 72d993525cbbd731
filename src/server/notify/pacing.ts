/**
 * Per-target pacing (Telegram: 1 message/s per chat, 20/min per group). Pure bookkeeping with
 * times passed in; the dispatcher asks `delay` before claiming a lane and `record`s each send.
 * In-memory: a second dispatcher process paces on its own (see docs/alerts.md).
 */
import type { PaceRule } from "./channel.ts";

const MINUTE = 60_000;

export class Pacer {
  private readonly sent = new Map<string, number[]>();

  constructor(private readonly ruleFor: (lane: string) => PaceRule) {}

  /** How long to wait before the next message to `lane` may go out (0 = now). */
  delay(lane: string, now: number): number {
    const times = this.recent(lane, now);
    const rule = this.ruleFor(lane);
    const last = times.at(-1);
    let wait = last === undefined ? 0 : last + rule.minIntervalMs - now;
    if (rule.perMinute !== undefined && times.length >= rule.perMinute) {
      const oldestInWindow = times[times.length - rule.perMinute] as number;
      wait = Math.max(wait, oldestInWindow + MINUTE - now);
    }
    return Math.max(0, wait);
  }

  record(lane: string, at: number): void {
    const times = this.recent(lane, at);
    times.push(at);
    this.sent.set(lane, times);
  }

  private recent(lane: string, now: number): number[] {
    const times = (this.sent.get(lane) ?? []).filter((t) => now - t < MINUTE);
    this.sent.set(lane, times);
    return times;
  }
}
