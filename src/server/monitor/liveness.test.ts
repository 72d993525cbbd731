import { describe, expect, test } from "bun:test";
import { applyPolicy, DEFAULT_CLIENT_POLICY, evaluateReport } from "./evaluate.ts";
import { controlFlapping, FLAP_WINDOW_MS, STABLE } from "./flapping.ts";
import {
  afterServerStart,
  lateAt,
  nextDeadline,
  offlineAt,
  serverDowntime,
  sweepClient,
  sweepDecision,
} from "./liveness.ts";
import { buildReport, HOME, type ReportSpec, testGeo } from "./testing.ts";
import type { ClientPolicy, ClientState, Flip } from "./types.ts";

const T0 = Date.parse("2026-11-20T12:00:00Z");
const S = 1000;

/** A client driven by an injected clock: reports and sweeps happen at the times the test says. */
class FakeClient {
  state: ClientState | null = null;
  readonly events: Flip[] = [];
  constructor(private readonly policy: ClientPolicy = DEFAULT_CLIENT_POLICY) {}

  report(now: number, spec: ReportSpec = {}, replayed = false): Flip[] {
    const result = evaluateReport({
      report: buildReport({ observedAt: now - 2 * S, ...spec }),
      sourceIp: null,
      policy: this.policy,
      home: HOME,
      previous: this.state,
      geo: testGeo,
      now,
      replayed,
    });
    this.state = result.state;
    this.events.push(...result.flips);
    return result.flips;
  }

  sweep(now: number): Flip[] {
    const result = this.state === null ? null : sweepClient(this.state, now);
    if (result === null) return [];
    this.state = result.state;
    this.events.push(...result.flips);
    return result.flips;
  }

  get current(): ClientState {
    if (this.state === null) throw new Error("no state yet");
    return this.state;
  }
}

const kinds = (flips: Flip[]) => flips.map((f) => f.kind);

describe("deadlines", () => {
  test("interval 30 s: late at 45 s, offline at 90 s", () => {
    expect(lateAt(T0, 30 * S)).toBe(T0 + 45 * S);
    expect(offlineAt(T0, 30 * S)).toBe(T0 + 90 * S);
    expect(offlineAt(T0, 30 * S, 10 * S)).toBe(T0 + 40 * S);
  });

  test("nothing is due before the late deadline", () => {
    const client = new FakeClient();
    client.report(T0);
    expect(sweepDecision(client.current, T0 + 45 * S - 1)).toBeNull();
    expect(client.sweep(T0 + 45 * S - 1)).toEqual([]);
    expect(nextDeadline(client.current)).toBe(T0 + 45 * S);
  });
});

describe("late, offline, online", () => {
  test("a silent client goes late, then offline, then online with its downtime", () => {
    const client = new FakeClient();
    client.report(T0);
    const late = client.sweep(T0 + 45 * S);
    expect(late).toMatchObject([{ kind: "client.late", from: "online", to: "late", suppressed: false }]);
    expect(client.current).toMatchObject({
      liveness: "late",
      status: "yellow",
      late_at: null,
      offline_at: T0 + 90 * S,
    });
    expect(client.sweep(T0 + 60 * S)).toEqual([]);
    expect(nextDeadline(client.current)).toBe(T0 + 90 * S);

    const offline = client.sweep(T0 + 90 * S);
    expect(offline).toMatchObject([{ kind: "client.offline", from: "late", to: "offline" }]);
    expect(client.current).toMatchObject({
      liveness: "offline",
      status: "red",
      late_at: null,
      offline_at: null,
    });
    expect(client.current.reason).toContain("Offline");
    // a time people read, not a raw ISO string
    expect(client.current.reason).toContain(
      `since ${new Date(T0).toISOString().slice(0, 19).replace("T", " ")} UTC`,
    );
    expect(client.current.reason).not.toMatch(/\d{2}T\d{2}:\d{2}/);
    expect(nextDeadline(client.current)).toBeNull();
    expect(client.sweep(T0 + 3600 * S)).toEqual([]);

    const online = client.report(T0 + 600 * S);
    expect(online).toMatchObject([{ kind: "client.online", from: "offline", to: "online" }]);
    expect(online[0]?.evidence.downtime_ms).toBe(600 * S);
    expect(client.current).toMatchObject({ liveness: "online", status: "green" });
  });

  test("a sweeper that slept past both deadlines goes straight to offline", () => {
    const client = new FakeClient();
    client.report(T0);
    expect(sweepDecision(client.current, T0 + 100 * S)).toMatchObject({
      kind: "client.offline",
      from: "online",
    });
    expect(kinds(client.sweep(T0 + 100 * S))).toEqual(["client.offline"]);
  });

  test("with a long interval and a short grace, offline comes before late and late is skipped", () => {
    const client = new FakeClient({ ...DEFAULT_CLIENT_POLICY, interval_s: 300, grace_s: 60 });
    client.report(T0);
    expect(client.current.offline_at).toBe(T0 + 360 * S);
    expect(client.current.late_at).toBe(T0 + 450 * S);
    expect(kinds(client.sweep(T0 + 360 * S))).toEqual(["client.offline"]);
    expect(client.sweep(T0 + 450 * S)).toEqual([]);
  });

  test("a report before the deadline keeps the client online and moves the deadlines", () => {
    const client = new FakeClient();
    client.report(T0);
    client.report(T0 + 30 * S);
    expect(client.sweep(T0 + 60 * S)).toEqual([]);
    expect(client.current.late_at).toBe(T0 + 75 * S);
    expect(client.events.map((f) => f.kind)).toEqual(["client.first_seen"]);
  });

  test("paused and never-seen clients are never due", () => {
    const paused = new FakeClient({ ...DEFAULT_CLIENT_POLICY, paused: true });
    paused.report(T0);
    expect(sweepDecision(paused.current, T0 + 3600 * S)).toBeNull();
    expect(paused.current).toMatchObject({ status: "grey", late_at: null, offline_at: null });
    expect(nextDeadline(paused.current)).toBeNull();
  });

  test("unpausing gives a fresh interval and grace, not an instant offline", () => {
    const client = new FakeClient({ ...DEFAULT_CLIENT_POLICY, paused: true });
    client.report(T0);
    const unpausedAt = T0 + 3600 * S;
    const state = applyPolicy(client.current, { ...DEFAULT_CLIENT_POLICY, paused: false }, unpausedAt);
    expect(state.paused).toBe(false);
    expect(state.status).toBe("green");
    expect(sweepDecision(state, unpausedAt + 1)).toBeNull();
    expect(state.offline_at).toBe(unpausedAt + 90 * S);
  });

  test("a shorter interval set by PATCH recounts deadlines from the last report", () => {
    const client = new FakeClient();
    client.report(T0);
    const state = applyPolicy(
      client.current,
      { ...DEFAULT_CLIENT_POLICY, interval_s: 10, grace_s: 5 },
      T0 + 20 * S,
    );
    expect(state).toMatchObject({
      interval_s: 10,
      grace_s: 5,
      late_at: T0 + 15 * S,
      offline_at: T0 + 15 * S,
    });
    expect(sweepDecision(state, T0 + 20 * S)?.kind).toBe("client.offline");
  });
});

describe("server restart", () => {
  test("a restart after a long downtime raises no false late or offline", () => {
    const client = new FakeClient();
    client.report(T0);
    // The server stops 10 s later and starts again an hour later: every deadline has passed.
    const startedAt = T0 + 3600 * S;
    client.state = afterServerStart(client.current, startedAt);
    expect(client.sweep(startedAt)).toEqual([]);
    expect(client.sweep(startedAt + 44 * S)).toEqual([]);
    // The client's spool drains and it reports again: no alert, no online flip (it was never marked gone).
    expect(client.report(startedAt + 20 * S)).toEqual([]);
    expect(client.current.liveness).toBe("online");
  });

  test("a client that really stays silent after a restart is late and offline, counted from the start", () => {
    const client = new FakeClient();
    client.report(T0);
    const startedAt = T0 + 3600 * S;
    client.state = afterServerStart(client.current, startedAt);
    expect(nextDeadline(client.current)).toBe(startedAt + 45 * S);
    expect(kinds(client.sweep(startedAt + 45 * S))).toEqual(["client.late"]);
    expect(kinds(client.sweep(startedAt + 90 * S))).toEqual(["client.offline"]);
  });

  test("a restart honours a larger grace given by the server", () => {
    const client = new FakeClient();
    client.report(T0);
    const startedAt = T0 + 3600 * S;
    const state = afterServerStart(client.current, startedAt, 300 * S);
    expect(state.offline_at).toBe(startedAt + 330 * S);
  });

  test("a restart keeps later deadlines and leaves offline clients offline", () => {
    const client = new FakeClient();
    client.report(T0);
    expect(afterServerStart(client.current, T0 + 1 * S).offline_at).toBe(T0 + 91 * S);
    client.sweep(T0 + 100 * S);
    const restarted = afterServerStart(client.current, T0 + 3600 * S);
    expect(restarted.liveness).toBe("offline");
    expect(sweepDecision(restarted, T0 + 7200 * S)).toBeNull();
  });

  test("never-seen clients are left alone", () => {
    const client = new FakeClient();
    client.report(T0);
    const never = {
      ...client.current,
      last_report_at: null,
      late_at: null,
      offline_at: null,
      liveness: "never" as const,
    };
    expect(afterServerStart(never, T0)).toBe(never);
  });

  test("the server's own downtime is an unknown interval, not client downtime", () => {
    expect(serverDowntime(T0, T0 + 3600 * S)).toEqual({
      from: T0,
      to: T0 + 3600 * S,
      duration_ms: 3600 * S,
      reason: "unknown (server down)",
    });
    expect(serverDowntime(null, T0)).toBeNull();
    expect(serverDowntime(T0, T0 + 5 * S)).toBeNull();
  });
});

describe("replayed reports", () => {
  test("a spooled backlog after a silence brings the client online without stale alerts", () => {
    const client = new FakeClient();
    client.report(T0);
    client.sweep(T0 + 90 * S);
    expect(client.current.liveness).toBe("offline");
    // The tunnel was down (kill switch): the agent spooled a report showing a DNS leak, then recovered.
    const replay = client.report(
      T0 + 900 * S,
      { observedAt: T0 + 120 * S, resolvers: ["203.0.113.53"] },
      true,
    );
    expect(replay.map((f) => [f.kind, f.suppressed])).toEqual([
      ["client.online", false],
      ["dns_leak.started", true],
    ]);
    const live = client.report(T0 + 901 * S);
    expect(live.map((f) => [f.kind, f.suppressed])).toEqual([["dns_leak.ended", false]]);
  });
});

describe("flapping", () => {
  test("four changes in ten minutes raise one flapping event; later flips are suppressed until stable", () => {
    const client = new FakeClient();
    client.report(T0);
    const leak = { resolvers: ["203.0.113.53"] };
    const toggles: Flip[][] = [];
    for (let i = 1; i <= 5; i++) toggles.push(client.report(T0 + i * 60 * S, i % 2 === 1 ? leak : {}));

    expect(toggles.slice(0, 3).map(kinds)).toEqual([
      ["dns_leak.started"],
      ["dns_leak.ended"],
      ["dns_leak.started"],
    ]);
    expect(kinds(toggles[3] ?? [])).toEqual(["dns_leak.ended", "client.flapping"]);
    expect(toggles[3]?.every((f) => !f.suppressed)).toBe(true);
    expect(toggles[3]?.[1]).toMatchObject({ from: "stable", to: "flapping" });
    for (const later of toggles.slice(4)) {
      expect(later.map((f) => [f.kind, f.suppressed])).toEqual([[later[0]?.kind, true]]);
    }
    expect(client.events.filter((f) => f.kind === "client.flapping")).toHaveLength(1);

    // The last change (a leak starting, suppressed) was at 5 min; stable 10 min later the user learns the truth.
    const lastChange = T0 + 5 * 60 * S;
    expect(nextDeadline(client.current)).toBe(
      Math.min(lastChange + FLAP_WINDOW_MS, client.current.late_at ?? 0),
    );
    client.report(T0 + 10 * 60 * S, leak);
    client.report(T0 + 14.5 * 60 * S, leak);
    const stable = client.sweep(lastChange + FLAP_WINDOW_MS);
    expect(stable).toMatchObject([
      { kind: "client.flapping", from: "flapping", to: "stable", suppressed: false },
    ]);
    expect(stable[0]?.evidence.status).toBe("red");
    expect(String(stable[0]?.evidence.reason)).toContain("DNS leaks");
    expect(client.current.flap.flapping_since).toBeNull();

    // After that, alerts flow again.
    expect(client.report(T0 + 16 * 60 * S).map((f) => [f.kind, f.suppressed])).toEqual([
      ["dns_leak.ended", false],
    ]);
  });

  test("liveness flips count: online/late/online/late flaps", () => {
    const client = new FakeClient();
    client.report(T0);
    let t = T0;
    const all: Flip[] = [];
    for (let i = 0; i < 2; i++) {
      t += 45 * S;
      all.push(...client.sweep(t));
      t += 10 * S;
      all.push(...client.report(t));
    }
    expect(kinds(all)).toEqual([
      "client.late",
      "client.online",
      "client.late",
      "client.online",
      "client.flapping",
    ]);
  });

  test("changes spread wider than the window never flap", () => {
    let flap = STABLE;
    const batch: Flip[] = [
      { kind: "bypass.started", from: "ok", to: "leak", evidence: { reason: "x" }, at: 0 },
    ];
    for (let i = 0; i < 10; i++) {
      const result = controlFlapping(flap, batch, T0 + i * 4 * 60 * S, { status: "red", reason: "x" });
      flap = result.flap;
      expect(result.flips.map((f) => f.kind)).toEqual(["bypass.started"]);
    }
  });

  test("first_seen and already suppressed flips are not changes", () => {
    let flap = STABLE;
    const quiet: Flip[] = [
      { kind: "client.first_seen", from: null, to: "green", evidence: {}, at: 0 },
      { kind: "bypass.started", from: "ok", to: "leak", evidence: {}, at: 0, suppressed: true },
    ];
    for (let i = 0; i < 6; i++)
      flap = controlFlapping(flap, quiet, T0 + i * S, { status: "grey", reason: "" }).flap;
    expect(flap).toEqual(STABLE);
  });
});
