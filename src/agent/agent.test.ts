import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeReceiver } from "../../test/fakes/receiver.ts";
import type { ProbeResult, ProbeRound } from "../probe/run.ts";
import { Agent, type AgentConfig, type CycleInfo } from "./agent.ts";
import { Spool } from "./spool.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const rx = startFakeReceiver({ clients: { c1: "s3cret" } });
afterEach(() => {
  rx.reports.length = 0;
  rx.attempts.length = 0;
  rx.failWith = null;
  rx.nextReportInS = 30;
  rx.features = null;
  rx.verdict = { status: "green", reasons: ["Protected (the fake receiver says so)."] };
});

const result = (ip = "203.0.113.7"): ProbeResult => ({
  ipv4: { ip, consistent: true, answers: [{ provider: "p", ip, latency_ms: 1, error: null }] },
  dns: [],
  errors: [],
});

/** A probe round whose IP and DNS parts are both in when `probe` resolves. */
const round = (probe: () => Promise<ProbeResult>): ProbeRound => {
  const all = probe();
  return { ip: all.then(({ dns: _, ...ip }) => ip), result: all };
};
const instant = (ip?: string) => () => round(async () => result(ip));

function config(over: Partial<AgentConfig> = {}): AgentConfig {
  return {
    serverUrl: rx.url,
    clientId: "c1",
    secret: "s3cret",
    intervalMs: 60_000,
    jitter: 0.1,
    probe: {
      ip4Providers: [],
      ip6Providers: [],
      anyFamilyProviders: [],
      ipv6: false,
      dnsProbes: [],
      timeoutMs: 500,
    },
    sendTimeoutMs: 2000,
    watchIntervalMs: 0,
    debounceMs: 30,
    sendBackoff: { baseMs: 50, maxMs: 200 },
    stopGraceMs: 1500,
    ...over,
  };
}

const waitFor = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
};

describe("Agent", () => {
  test("probes at start, reports ready and each round, and follows next_report_in_s", async () => {
    rx.nextReportInS = 1;
    const cycles: CycleInfo[] = [];
    let ready = 0;
    const agent = new Agent(
      config(),
      { spool: new Spool({ max: 10 }), logger: quiet, probe: instant() },
      { onReady: () => ready++, onCycle: (c) => cycles.push(c) },
    );
    await agent.start();
    expect(ready).toBe(1);
    await waitFor(() => rx.reports.length >= 2);
    await agent.stop();
    expect(cycles[0]).toMatchObject({ reason: "start", delivered: true, queued: 0 });
    expect(cycles[1]?.reason).toBe("timer");
    // the first report carries --interval, later ones the interval the server asked for
    expect(rx.reports.map((r) => r.report.interval_s).slice(0, 2)).toEqual([60, 1]);
    expect(agent.currentIntervalMs).toBe(1000);
  });

  test("network changes are debounced, never run two probes at once, and give up a stale round", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let rounds = 0;
    const probe = async () => {
      inFlight++;
      rounds++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Bun.sleep(100);
      inFlight--;
      return result();
    };
    const agent = new Agent(config(), {
      spool: new Spool({ max: 10 }),
      logger: quiet,
      probe: () => round(probe),
    });
    await agent.start(); // round 1 (start) now in flight
    for (let i = 0; i < 5; i++) agent.trigger("network change"); // a burst while round 1 runs: one more round
    await waitFor(() => rounds === 2);
    agent.trigger("network change"); // arrives while round 2 runs: queued behind it
    await waitFor(() => rx.reports.length >= 1);
    await Bun.sleep(200);
    await agent.stop();
    expect(maxInFlight).toBe(1);
    expect(rounds).toBe(3);
    // the rounds a network change overtook report nothing: they saw the path that went away
    expect(rx.reports.length).toBe(1);
  });

  test("a route/interface/resolv.conf change probes at once, not at the next interval", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sentinel-agent-routes-"));
    const paths = {
      route: join(dir, "route"),
      ipv6Route: join(dir, "ipv6_route"),
      sysClassNet: join(dir, "net"),
      resolvConf: join(dir, "resolv.conf"),
    };
    writeFileSync(
      paths.route,
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nwg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n",
    );
    writeFileSync(paths.resolvConf, "nameserver 10.64.0.1\n");
    mkdirSync(join(paths.sysClassNet, "wg0"), { recursive: true });
    writeFileSync(join(paths.sysClassNet, "wg0", "operstate"), "unknown\n");
    const reasons: string[] = [];
    const agent = new Agent(
      config({ watchIntervalMs: 20 }),
      { spool: new Spool({ max: 10 }), logger: quiet, probe: instant(), routePaths: paths },
      { onCycle: (c) => reasons.push(c.reason) },
    );
    try {
      await agent.start();
      await waitFor(() => reasons.length === 1);
      await Bun.sleep(100);
      expect(reasons).toEqual(["start"]); // nothing changed: no extra probe
      const t0 = Date.now();
      rmSync(join(paths.sysClassNet, "wg0"), { recursive: true }); // the tunnel interface goes away
      await waitFor(() => reasons.length === 2);
      expect(reasons[1]).toBe("network change");
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a down server: reports wait in the spool and go out in order with back-off", async () => {
    rx.failWith = 503;
    const spool = new Spool({ max: 10 });
    let n = 0;
    const agent = new Agent(config({ intervalMs: 1000, jitter: 0 }), {
      spool,
      logger: quiet,
      probe: () => round(async () => result(`203.0.113.${++n}`)),
    });
    await agent.start();
    await waitFor(() => spool.size >= 2);
    const failedAttempts = rx.attempts.length;
    expect(failedAttempts).toBeGreaterThanOrEqual(2); // retried on its own
    rx.failWith = null;
    await waitFor(() => rx.reports.length >= 2 && spool.size === 0);
    await agent.stop();
    const ips = rx.reports.map((r) => r.report.ipv4.ip);
    expect(ips.slice(0, 2)).toEqual(["203.0.113.1", "203.0.113.2"]);
    const observed = rx.reports.map((r) => Date.parse(r.report.observed_at));
    expect(observed).toEqual([...observed].sort((a, b) => a - b));
  });

  test("runOnce: delivered when stored, not when not (and the report stays spooled)", async () => {
    const spool = new Spool({ max: 10 });
    const agent = new Agent(config(), { spool, logger: quiet, probe: instant() });
    expect(await agent.runOnce()).toMatchObject({ delivered: true, problem: null });
    rx.failWith = 500;
    const again = new Agent(config(), { spool, logger: quiet, probe: instant() });
    expect(await again.runOnce()).toEqual({
      delivered: false,
      verdict: null,
      problem: "HTTP 500 unavailable: the fake server was told to fail",
    });
    expect(spool.size).toBe(1);
  });

  test("a report the server rejects for good is dropped so it cannot block the queue", async () => {
    rx.failWith = 400;
    const spool = new Spool({ max: 10 });
    const errors: string[] = [];
    const logger = { ...quiet, error: (m: string) => errors.push(m) };
    const agent = new Agent(config(), { spool, logger, probe: instant() });
    expect(await agent.runOnce()).toMatchObject({ delivered: false });
    expect(spool.size).toBe(0);
    expect(errors[0]).toContain("rejected a report for good (HTTP 400");
  });

  test("each round says why the last upload failed, until one succeeds (the status file shows it)", async () => {
    const cycles: CycleInfo[] = [];
    const spool = new Spool({ max: 10 });
    const agent = () =>
      new Agent(config(), { spool, logger: quiet, probe: instant() }, { onCycle: (c) => cycles.push(c) });
    rx.failWith = 503;
    await agent().runOnce();
    rx.failWith = 400;
    await agent().runOnce();
    rx.failWith = null;
    await agent().runOnce();
    expect(cycles.map((c) => [c.delivered, c.sendError])).toEqual([
      [false, "HTTP 503 unavailable: the fake server was told to fail"],
      [false, "rejected: HTTP 400 unavailable: the fake server was told to fail"],
      [true, null],
    ]);
  });
});

describe("after a network change the IP answers do not wait for DNS", () => {
  const observation = {
    probe: "whoami.example",
    type: "A" as const,
    via: "192.0.2.53",
    answers: ["192.0.2.53"],
    latency_ms: 1,
    error: null,
  };
  /** IP answers at once, the DNS part `dnsMs` later (or as soon as the round is given up). */
  const slowDns =
    (dnsMs: () => number, ip = "203.0.113.7") =>
    (signal: AbortSignal): ProbeRound => {
      const ipPart = Promise.resolve({ ipv4: result(ip).ipv4, errors: [] });
      const wait = dnsMs();
      const all = ipPart.then(async (p) => {
        await Promise.race([Bun.sleep(wait), new Promise((r) => signal.addEventListener("abort", r))]);
        return { ...p, dns: [observation], errors: [] };
      });
      return { ip: ipPart, result: all };
    };

  async function started(probe: (signal: AbortSignal) => ProbeRound, verdicts: string[] = []) {
    const agent = new Agent(
      config(),
      { spool: new Spool({ max: 10 }), logger: quiet, probe },
      { onVerdict: (v) => verdicts.push(v.status) },
    );
    await agent.start();
    await waitFor(() => rx.reports.length === 1, 5000); // the start round: one full report
    return agent;
  }

  test("IP answers go out at once with dns_pending, the DNS part follows in the next report", async () => {
    rx.features = ["dns_pending"];
    const verdicts: string[] = [];
    const agent = await started(
      slowDns(() => 800),
      verdicts,
    );
    try {
      expect(rx.reports[0]?.report.dns_pending).toBeUndefined();
      rx.verdict = { status: "red", reasons: ["Traffic bypasses the VPN."] };
      const t0 = Date.now();
      agent.trigger("network change");
      await waitFor(() => rx.reports.length === 2);
      const early = rx.reports[1];
      expect((early?.receivedAt ?? 0) - t0).toBeLessThan(400); // debounce 30 ms + grace 100 ms, not 800 ms of DNS
      expect(early?.report).toMatchObject({ dns_pending: true, dns: [] });
      expect(early?.report.ipv4.ip).toBe("203.0.113.7");
      await waitFor(() => rx.reports.length === 3);
      const full = rx.reports[2]?.report;
      expect(full?.dns_pending).toBeUndefined();
      expect(full?.dns).toEqual([observation]);
      // the server's verdict on every report of the round, the early one too
      await waitFor(() => verdicts.length === 3);
      expect(verdicts).toEqual(["green", "red", "red"]);
    } finally {
      await agent.stop();
    }
  });

  test("not to a server that does not say it keeps the DNS verdict for such a report", async () => {
    rx.features = null; // an older server would judge the missing DNS part unknown
    const agent = await started(slowDns(() => 300));
    try {
      agent.trigger("network change");
      await waitFor(() => rx.reports.length === 2);
      await Bun.sleep(200);
      expect(rx.reports.length).toBe(2);
      expect(rx.reports[1]?.report.dns_pending).toBeUndefined();
      expect(rx.reports[1]?.report.dns).toEqual([observation]);
    } finally {
      await agent.stop();
    }
  });

  test("not when the DNS part is in within the grace: one report, not two", async () => {
    rx.features = ["dns_pending"];
    const agent = await started(slowDns(() => 20));
    try {
      agent.trigger("network change");
      await waitFor(() => rx.reports.length === 2);
      await Bun.sleep(200);
      expect(rx.reports.length).toBe(2);
      expect(rx.reports[1]?.report.dns).toEqual([observation]);
    } finally {
      await agent.stop();
    }
  });

  test("not for timer rounds: a slow resolver does not double the reports", async () => {
    rx.features = ["dns_pending"];
    rx.nextReportInS = 1;
    const agent = await started(slowDns(() => 300));
    try {
      await waitFor(() => rx.reports.length === 2, 3000); // the timer round
      expect(rx.reports.map((r) => r.report.dns_pending)).toEqual([undefined, undefined]);
    } finally {
      await agent.stop();
    }
  });

  test("a network change gives up a round still waiting on DNS and probes the new path at once", async () => {
    rx.features = ["dns_pending"];
    let calls = 0;
    const agent = new Agent(config(), {
      spool: new Spool({ max: 10 }),
      logger: quiet,
      // the start round's resolver never answers; later rounds' answer at once
      probe: slowDns(() => (++calls === 1 ? 60_000 : 0), "203.0.113.7"),
    });
    await agent.start();
    try {
      await Bun.sleep(100);
      const t0 = Date.now();
      agent.trigger("network change");
      await waitFor(() => rx.reports.length >= 1, 2000);
      expect(Date.now() - t0).toBeLessThan(1000);
      // the start round reported nothing: it was given up, not waited out
      expect(calls).toBe(2);
      expect(rx.reports.length).toBe(1);
      expect(rx.reports[0]?.report.dns).toEqual([observation]);
    } finally {
      await agent.stop();
    }
  });
});
