/**
 * Notifier: turns events into outbox rows. `enqueue` runs inside the caller's transaction (the
 * monitor's report or sweep transaction), so the flip and its notifications commit together:
 * an alert is never lost, and a rolled-back flip never alerts. The other entry points (uplink,
 * server start, the periodic sweep for reminders and held-back problems) open their own
 * transaction. Every one wakes the dispatcher once its transaction has committed.
 */
import { EVENT_SEVERITY, type EventKind, isEventKind } from "../../protocol/events.ts";
import type { Broker } from "../broker.ts";
import { mutedUntil } from "../monitor/settings.ts";
import type {
  ClientRecord,
  EventRecord,
  OutboxRow,
  Repositories,
  Store,
  Transaction,
} from "../store/index.ts";
import type { Channel, ChannelSource } from "./channel.ts";
import type { RouteCandidate } from "./filter.ts";
import type { ClientLimit } from "./limit.ts";
import { decide, type NoiseSettings, RESOLVES, UPLINK_EXPLAINS } from "./policy.ts";
import { activeWindow } from "./schedule.ts";
import type { Notification, NotificationFacts } from "./types.ts";

export interface DigestSettings {
  /** this many notifications on one lane within `windowMs` fold the rest into one message; 0 = off */
  threshold: number;
  windowMs: number;
}

export interface NotifierDeps {
  store: Store;
  /** asked at every decision: dashboard channels come and go while the server runs */
  channels: ChannelSource;
  noise: NoiseSettings;
  digest: DigestSettings;
  /** --notify-client-limit: beyond it a client's alerts on a lane fold into one digest per period */
  clientLimit?: ClientLimit | null;
  /** remind while a client stays red; 0 = never */
  reminderIntervalMs: number;
  /** after the uplink returns, wait this long for clients to report before announcing held-back offline alerts */
  uplinkSettleMs?: number;
  broker?: Broker;
  /**
   * With no channel configured the log is the only alert: every event goes here as one line
   * (kind, client, reason), once the transaction that stored the event has committed.
   */
  logEvent?: (line: string) => void;
}

export interface UplinkState {
  down: boolean;
  /** when it last changed (ms), null if never */
  changedAt: number | null;
  /** the uplink.down event that began the current or last outage */
  downEventId: number | null;
}

const UPLINK_META_KEY = "notify.uplink";
const UPLINK_HELD = "server uplink down";
/** Kinds that never fold into a digest: they are the summary themselves. */
const NOT_DIGESTED = ["digest", "uplink.down", "uplink.up", "server.started"] as const;
const RED_KINDS = (Object.keys(EVENT_SEVERITY) as EventKind[]).filter(
  (k) => EVENT_SEVERITY[k] === "red" && !k.startsWith("uplink."),
);

/** Reads a nested field of unknown JSON without trusting its shape. */
function field(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** "event client.offline: laptop (online → offline): No report for 3 min." */
function eventLine(event: EventRecord, client: ClientRecord | null): string {
  const who = client?.name ?? (event.clientId ? `client ${event.clientId}` : "server");
  const change =
    event.from !== null || event.to !== null ? ` (${event.from ?? "-"} → ${event.to ?? "-"})` : "";
  const reason = field(event.evidence, "reason");
  const what = typeof reason === "string" ? reason : JSON.stringify(event.evidence).slice(0, 300);
  return `event ${event.kind}: ${who}${change}: ${what}${event.suppressed ? " (no alert: suppressed)" : ""}`;
}

export class Notifier {
  private readonly settleMs: number;

  constructor(private readonly deps: NotifierDeps) {
    this.settleMs = deps.uplinkSettleMs ?? 3 * 60_000;
  }

  /**
   * Decides, per event and per channel target, whether to notify, and inserts outbox rows.
   * Call it INSIDE the transaction that appended the events; the dispatcher is woken after the
   * commit. Returns the number of rows the dispatcher will deliver.
   * `ctx.client`: the events' client as that transaction leaves it, when the caller has it.
   */
  async enqueue(
    tx: Transaction,
    events: readonly EventRecord[],
    ctx: { now: number; client?: ClientRecord | null },
  ): Promise<number> {
    let queued = 0;
    const uplink = await this.uplinkState(tx);
    const clientOf = async (id: string) => (ctx.client?.id === id ? ctx.client : tx.clients.get(id));
    const channels = this.deps.channels.list();
    for (const event of events) {
      if (!isEventKind(event.kind)) continue;
      const client = event.clientId ? await clientOf(event.clientId) : null;
      const { logEvent } = this.deps;
      if (channels.length === 0 && logEvent) {
        const line = eventLine(event, client);
        tx.afterCommit(() => logEvent(line));
      }
      if (event.clientId && !client) continue;
      const candidate: RouteCandidate = {
        kind: event.kind,
        severity: EVENT_SEVERITY[event.kind],
        client: client ? { id: client.id, name: client.name, tags: client.settings.tags } : null,
      };
      for (const channel of channels) {
        for (const target of channel.targets())
          if (channel.accepts?.(target, candidate) ?? true)
            queued += await this.enqueueOne(
              tx,
              event,
              event.kind,
              client,
              channel.name,
              target,
              ctx.now,
              uplink,
            );
      }
    }
    this.wake(tx, queued);
    return queued;
  }

  private async enqueueOne(
    tx: Transaction,
    event: EventRecord,
    kind: EventKind,
    client: ClientRecord | null,
    channel: string,
    target: string,
    now: number,
    uplink: UplinkState,
  ): Promise<number> {
    const { outbox } = tx;
    const pairs = RESOLVES[kind];
    const lastRelated = pairs
      ? await outbox.lastForClient(event.clientId, [...pairs, kind], channel, target)
      : null;
    const decision = decide(
      {
        kind,
        monitorSuppressed: event.suppressed,
        now,
        settings: client?.settings ?? null,
        uplinkDown: uplink.down,
        lastRelated,
      },
      this.deps.noise,
    );
    if (decision.action === "skip") return 0;

    const facts = await this.factsFor(tx, kind, client, event, lastRelated, channel, target, uplink);
    const notification = this.notification(event, kind, client, facts);
    const base = {
      eventId: event.id,
      clientId: event.clientId,
      kind,
      channel,
      target,
      idempotencyKey: `${channel}:${target}:event:${event.id}`,
      payload: notification,
      createdAt: now,
      nextAttemptAt: now,
    };
    if (decision.action === "suppress") {
      await outbox.insert({ ...base, status: "suppressed", lastError: decision.reason });
      return 0;
    }
    const digestId =
      (await this.overLimitDigest(tx, kind, client, channel, target, now, event.id)) ??
      (await this.digestFor(tx, kind, channel, target, now, event.id));
    return (await outbox.insert({ ...base, status: "pending", digestId })) === null ? 0 : 1;
  }

  /**
   * --notify-client-limit: once a client had N messages of its own on a lane within the period,
   * its further alerts fold into one digest of that client, sent when the period that began
   * with the oldest of those N ends. Other clients' alerts on the lane are not held back.
   */
  private async overLimitDigest(
    tx: Transaction,
    kind: string,
    client: ClientRecord | null,
    channel: string,
    target: string,
    now: number,
    eventId: number,
  ): Promise<number | null> {
    const limit = this.deps.clientLimit;
    if (!limit || !client || (NOT_DIGESTED as readonly string[]).includes(kind)) return null;
    const { outbox } = tx;
    const window = await outbox.clientWindow(channel, target, client.id, now - limit.periodMs);
    if (window.count < limit.count) return null;
    const open = await outbox.openDigest(channel, target, now, client.id);
    if (open) return open.id;
    const digest: Notification = {
      kind: "digest",
      severity: "info",
      eventId: null,
      client: { id: client.id, name: client.name },
      from: null,
      to: null,
      at: now,
      evidence: {},
      facts: { limit: limit.text },
    };
    return outbox.insert({
      eventId: null,
      clientId: client.id,
      kind: "digest",
      channel,
      target,
      idempotencyKey: `${channel}:${target}:limit:${client.id}:${eventId}`,
      payload: digest,
      status: "pending",
      createdAt: now,
      nextAttemptAt: (window.oldestAt ?? now) + limit.periodMs,
    });
  }

  /** The open digest this notification folds into, creating it when the lane just crossed the threshold. */
  private async digestFor(
    tx: Transaction,
    kind: string,
    channel: string,
    target: string,
    now: number,
    eventId: number,
  ): Promise<number | null> {
    const { threshold, windowMs } = this.deps.digest;
    if (threshold <= 0 || (NOT_DIGESTED as readonly string[]).includes(kind)) return null;
    const { outbox } = tx;
    if ((await outbox.countRecent(channel, target, now - windowMs, NOT_DIGESTED)) + 1 < threshold)
      return null;
    const open = await outbox.openDigest(channel, target, now);
    if (open) return open.id;
    const digest: Notification = {
      kind: "digest",
      severity: "info",
      eventId: null,
      client: null,
      from: null,
      to: null,
      at: now,
      evidence: {},
      facts: {},
    };
    // It collects for one window, then goes out as one message with everything folded into it.
    return outbox.insert({
      eventId: null,
      clientId: null,
      kind: "digest",
      channel,
      target,
      idempotencyKey: `${channel}:${target}:digest:${eventId}`,
      payload: digest,
      status: "pending",
      createdAt: now,
      nextAttemptAt: now + windowMs,
    });
  }

  private async factsFor(
    tx: Pick<Repositories, "outbox">,
    kind: EventKind,
    client: ClientRecord | null,
    event: EventRecord,
    lastRelated: OutboxRow | null,
    channel: string,
    target: string,
    uplink: UplinkState,
  ): Promise<NotificationFacts> {
    const facts: NotificationFacts = {};
    if (client) {
      const status = field(client.state, "status");
      const reason = field(client.state, "reason");
      facts.status = typeof status === "string" ? status : client.status;
      if (typeof reason === "string") facts.reason = reason;
    }
    if (kind === "client.offline" && client) {
      facts.lastSeenAt = client.lastReportAt;
      const exit = field(client.state, "exit") as NotificationFacts["lastExit"] | undefined;
      facts.lastExit = exit && typeof exit === "object" ? exit : null;
    }
    if (RESOLVES[kind] && lastRelated && lastRelated.kind !== kind) {
      const began = field(lastRelated.payload, "at");
      if (typeof began === "number") facts.downtimeMs = event.at - began;
    }
    if (kind === "uplink.up" && uplink.changedAt !== null) {
      const held = (await tx.outbox.list({ status: "suppressed", limit: 1000 })).filter(
        (r) =>
          r.channel === channel &&
          r.target === target &&
          r.lastError === UPLINK_HELD &&
          r.createdAt >= (uplink.changedAt ?? 0),
      );
      facts.heldBack = [
        ...new Set(
          held.reverse().map((r) => (field(r.payload, "client", "name") as string | undefined) ?? "?"),
        ),
      ];
    }
    return facts;
  }

  private notification(
    event: EventRecord,
    kind: EventKind,
    client: ClientRecord | null,
    facts: NotificationFacts,
  ): Notification {
    return {
      kind,
      severity: EVENT_SEVERITY[kind],
      eventId: event.id,
      client: client ? { id: client.id, name: client.name } : null,
      from: event.from,
      to: event.to,
      at: event.at,
      evidence: event.evidence,
      facts,
    };
  }

  async uplinkState(from: Pick<Repositories, "meta"> = this.deps.store): Promise<UplinkState> {
    const raw = await from.meta.get(UPLINK_META_KEY);
    if (!raw) return { down: false, changedAt: null, downEventId: null };
    try {
      return JSON.parse(raw) as UplinkState;
    } catch {
      return { down: false, changedAt: null, downEventId: null };
    }
  }

  /**
   * The server's own uplink went down or came back (home-identity probes failing or recovering).
   * Stores an uplink.down/uplink.up event and its notifications; while down, offline and late
   * alerts are held back. Repeated calls with the same state do nothing. Returns rows queued.
   */
  async uplinkChanged(change: {
    down: boolean;
    at: number;
    evidence?: Record<string, unknown>;
  }): Promise<number> {
    return this.deps.store.transaction(async (tx) => {
      const current = await this.uplinkState(tx);
      if (current.down === change.down) return 0;
      const kind: EventKind = change.down ? "uplink.down" : "uplink.up";
      const evidence = {
        reason: change.down ? "The server's own internet connection failed." : "The server is online again.",
        ...change.evidence,
      };
      const event = {
        clientId: null,
        kind,
        from: change.down ? "up" : "down",
        to: change.down ? "down" : "up",
        evidence,
        at: change.at,
        suppressed: false,
      };
      const id = await tx.events.append(event);
      // the state is written first so the up event's facts can find what the outage held back
      const next: UplinkState = {
        down: change.down,
        changedAt: change.down ? change.at : current.changedAt,
        downEventId: change.down ? id : current.downEventId,
      };
      await tx.meta.set(UPLINK_META_KEY, JSON.stringify(next));
      const n = await this.enqueue(tx, [{ ...event, id }], { now: change.at });
      await tx.meta.set(UPLINK_META_KEY, JSON.stringify({ ...next, changedAt: change.at }));
      return n;
    });
  }

  /** Announces a server start with client counts (only when server-start alerts are on). */
  async serverStarted(at: number): Promise<number> {
    return this.deps.store.transaction(async (tx) => {
      const counts = await tx.clients.countByStatus();
      const event = {
        clientId: null,
        kind: "server.started",
        from: null,
        to: null,
        evidence: { counts },
        at,
        suppressed: false,
      };
      const id = await tx.events.append(event);
      return this.enqueue(tx, [{ ...event, id }], { now: at });
    });
  }

  /**
   * Periodic work (every ~30 s): reminders for clients that stay red, and problems a mute, a
   * maintenance window or an uplink outage held back that are still going on when the
   * suppression ends, so a real outage is never hidden for good. Returns rows queued.
   */
  async sweep(now: number): Promise<number> {
    return this.deps.store.transaction(async (tx) => {
      const uplink = await this.uplinkState(tx);
      let n = 0;
      for (const client of await tx.clients.withStatus("red")) {
        if (client.state?.flap?.flapping_since != null) continue; // the flapping alert speaks for it
        const [event] = await tx.events.query({ clientId: client.id, kinds: RED_KINDS, limit: 1 });
        if (!event || event.suppressed || !isEventKind(event.kind)) continue;
        if (client.settings.paused || mutedUntil(client.settings, now) !== null) continue;
        if (activeWindow(this.deps.noise.maintenance, now, this.deps.noise.timeZone)) continue;
        const uplinkExplains = UPLINK_EXPLAINS.has(event.kind);
        if (
          uplinkExplains &&
          (uplink.down || (uplink.changedAt !== null && now - uplink.changedAt < this.settleMs))
        )
          continue;
        for (const channel of this.deps.channels.list())
          for (const target of channel.targets())
            n += await this.remindOrCatchUp(tx, event, event.kind, client, channel, target, now, uplink);
      }
      this.wake(tx, n);
      return n;
    });
  }

  private async remindOrCatchUp(
    tx: Transaction,
    event: EventRecord,
    kind: EventKind,
    client: ClientRecord,
    route: Pick<Channel, "name" | "accepts">,
    target: string,
    now: number,
    uplink: UplinkState,
  ): Promise<number> {
    const { outbox } = tx;
    const channel = route.name;
    const rows = await outbox.forEvent(event.id, channel, target);
    const announced = rows.filter((r) => r.status !== "suppressed");
    const who = { id: client.id, name: client.name, tags: client.settings.tags };
    const wanted: RouteCandidate =
      announced.length === 0
        ? { kind, severity: EVENT_SEVERITY[kind], client: who }
        : { kind: "reminder", about: kind, severity: "red", client: who };
    if (!(route.accepts?.(target, wanted) ?? true)) return 0;
    const facts = await this.factsFor(tx, kind, client, event, null, channel, target, uplink);
    const base = {
      eventId: event.id,
      clientId: client.id,
      channel,
      target,
      status: "pending" as const,
      createdAt: now,
      nextAttemptAt: now,
    };
    if (announced.length === 0) {
      facts.heldBackBy = rows[0]?.lastError ?? "not announced before";
      const payload = this.notification(event, kind, client, facts);
      return (await outbox.insert({
        ...base,
        kind,
        payload,
        idempotencyKey: `${channel}:${target}:catchup:${event.id}`,
      })) === null
        ? 0
        : 1;
    }
    const interval = this.deps.reminderIntervalMs;
    const lastAt = Math.max(...announced.map((r) => r.createdAt));
    if (interval <= 0 || now - lastAt < interval) return 0;
    const nth = announced.filter((r) => r.kind === "reminder").length + 1;
    const payload: Notification = {
      ...this.notification(event, kind, client, { ...facts, remindOf: kind, since: event.at }),
      kind: "reminder",
      at: now,
    };
    return (await outbox.insert({
      ...base,
      kind: "reminder",
      payload,
      idempotencyKey: `${channel}:${target}:reminder:${event.id}:${nth}`,
    })) === null
      ? 0
      : 1;
  }

  /** Wakes the dispatcher (on every replica) once `tx` has committed the rows. */
  private wake(tx: Transaction, count: number) {
    if (count > 0) tx.afterCommit(() => this.deps.broker?.publish("outbox.enqueued", { count }));
  }
}
