/**
 * A channel's real state, derived from what happened to its messages (the lanes' last
 * deliveries, failures and test messages, stored so a restart forgets nothing) and from its
 * configuration: never "working" on the strength of nothing having gone wrong yet.
 */
import type { ChannelQueue, LaneRecord } from "../store/index.ts";

/**
 * working: the last message (delivery or test) to every target got through; failing: the last
 * one to some target did not, or the configuration is invalid; untried: nothing was sent yet.
 */
export type ChannelState = "working" | "failing" | "untried";

export interface ChannelHealth {
  name: string;
  state: ChannelState;
  /** failing: since the first failure after the last success (null: a configuration problem) */
  failingSince: number | null;
  lastOkAt: number | null;
  /** the configuration problem or the latest failure ("<target>: " first when there are several targets) */
  lastError: string | null;
  lastErrorAt: number | null;
  /** messages waiting to go out, and since when the oldest waits */
  waiting: number;
  oldestWaitingAt: number | null;
  /** messages given up on (kept 30 days) */
  failed: number;
  /** configuration problems, as sentences */
  problems: string[];
}

export function channelHealth(input: {
  name: string;
  problems: string[];
  targets: readonly string[];
  /** every stored lane; only this channel's configured targets count */
  lanes: readonly LaneRecord[];
  queue: ChannelQueue | undefined;
}): ChannelHealth {
  const { name, problems, targets } = input;
  const lanes = input.lanes.filter((l) => l.channel === name && targets.includes(l.target));
  const failing = lanes.filter((l) => l.failingSince !== null);
  const latest = lanes
    .filter((l) => l.lastErrorAt !== null)
    .sort((a, b) => (b.lastErrorAt ?? 0) - (a.lastErrorAt ?? 0))[0];
  const lastOk = lanes.map((l) => l.lastOkAt).filter((t): t is number => t !== null);
  const label = (l: LaneRecord) => (targets.length > 1 ? `${l.target}: ${l.lastError}` : l.lastError);
  const queue = input.queue ?? { waiting: 0, oldestWaitingAt: null, failed: 0 };
  const base = {
    name,
    lastOkAt: lastOk.length ? Math.max(...lastOk) : null,
    waiting: queue.waiting,
    oldestWaitingAt: queue.oldestWaitingAt,
    failed: queue.failed,
    problems,
  };
  if (problems.length)
    return {
      ...base,
      state: "failing",
      failingSince: null,
      lastError: problems.join("; "),
      lastErrorAt: null,
    };
  const shown = failing.sort((a, b) => (b.lastErrorAt ?? 0) - (a.lastErrorAt ?? 0))[0] ?? latest;
  return {
    ...base,
    state: failing.length ? "failing" : lastOk.length ? "working" : "untried",
    failingSince: failing.length ? Math.min(...failing.map((l) => l.failingSince as number)) : null,
    lastError: shown ? label(shown) : null,
    lastErrorAt: shown?.lastErrorAt ?? null,
  };
}
