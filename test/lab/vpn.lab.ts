/**
 * The VPN lab (issue 7): real failures through real routing tables and real resolvers, each
 * asserted by the alert it raises and timed from fault to alert. Run with `bun run test:lab`
 * (root; see docs/lab.md). Not part of `bun test`: the file name has no `.test.`.
 *
 * Development knobs (CI uses none of them):
 *   LAB_HEALTHY_S=20    shorten scenario (a) from 120 s
 *   LAB_ONLY=b,d        run only these scenarios (a-j)
 *   LAB_FAST=0          skip the fast-settings pass
 *
 * DNS evidence: the default pass runs the server's DNS leak oracle (--dns-zone) with the
 * third-party "who is asking" stand-ins switched off; the fast pass the other way round.
 *   SENTINEL_LAB_BIN=dist/sentinel-linux-x64   run the compiled binary instead of the source
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, type LabEvent, MQTT_PREFIX } from "./lab.ts";
import {
  ADDR,
  healthyRoutes,
  ipv6AroundTunnel,
  labUnavailable,
  setClientResolver,
  setVpnExit,
  teardownWorld,
  tunnelDown,
} from "./world.ts";

const unavailable = labUnavailable();
if (unavailable) console.warn(`\nVPN lab SKIPPED: ${unavailable}\n`);

const HEALTHY_S = Number(Bun.env.LAB_HEALTHY_S ?? 120);
const FAST_PASS = Bun.env.LAB_FAST !== "0";
const ONLY = Bun.env.LAB_ONLY ? new Set(Bun.env.LAB_ONLY.split(",").map((s) => s.trim())) : null;
const wanted = (id: string) => !ONLY || ONLY.has(id);

type Pass = "default" | "fast";
/** Where each pass's DNS evidence comes from (see Lab.useDnsEvidence). */
const DNS_SOURCE: Record<Pass, "oracle" | "probes"> = { default: "oracle", fast: "probes" };
/** The fastest documented settings: client --interval 10s (server deadlines follow it), server --grace 15s. */
const PASSES: Record<Pass, { client: string[]; server: string[] }> = {
  default: { client: [], server: [] },
  fast: { client: ["--interval", "10s", "--watch-interval", "250ms"], server: ["--grace", "15s"] },
};

interface Row {
  pass: Pass;
  scenario: string;
  event: string;
  detectionMs: number | null;
  alertMs: number | null;
  resolvedEvent?: string;
  resolvedMs?: number | null;
  targetMs?: number;
  alertTargetMs?: number;
  note?: string;
}
const rows: Row[] = [];

/** Scenario (j): per channel, when the one bypass alert arrived (from the fault) and how many copies. */
interface Delivery {
  channel: string;
  ms: number | null;
  copies: number;
  note: string;
}
const deliveries: Delivery[] = [];

const fmt = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`;

function table(): string {
  const lines = [
    "| pass | scenario | alert (event) | fault → event | fault → Telegram | target (event / Telegram) | recovery (event) | recovery → event |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows)
    lines.push(
      `| ${r.pass} | ${r.scenario} | ${r.event} | ${fmt(r.detectionMs)} | ${fmt(r.alertMs)} | ${[
        r.targetMs,
        r.alertTargetMs,
      ]
        .filter(Boolean)
        .map((t) => `≤ ${(t as number) / 1000} s`)
        .join(" / ")} | ${r.resolvedEvent ?? ""} | ${fmt(r.resolvedMs)} |`,
    );
  if (deliveries.length)
    lines.push(
      "",
      "Scenario (j): one bypass, four channels; ntfy down for the first 60 s, the server killed (-9) and restarted meanwhile",
      "",
      "| channel | fault → delivered | copies | note |",
      "|---|---|---|---|",
      ...deliveries.map((d) => `| ${d.channel} | ${fmt(d.ms)} | ${d.copies} | ${d.note} |`),
    );
  return lines.join("\n");
}

describe.skipIf(unavailable !== null)("VPN lab", () => {
  let lab: Lab;
  let dir: string;
  let serial = 0;

  beforeAll(async () => {
    // Ctrl-C or a CI timeout must not leave namespaces behind (afterAll does not run then)
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        lab?.stopAll();
        teardownWorld();
        process.exit(130);
      });
    dir = mkdtempSync(join(tmpdir(), "sentinel-lab-"));
    lab = new Lab(dir);
    if (!lab.telegram)
      console.warn(
        "lab: `sentinel server` has no --telegram-token yet; alerts are asserted on GET /api/v1/events only",
      );
    await lab.startServices();
    await lab.startServer();
    if (lab.oracle) await lab.oracleAnswersThroughVpn();
    lab.createAdminToken();
    // the server learns its home identity from the echo service, as it would from the real providers
    await lab.until("the server to learn its home address", 30_000, () =>
      lab.events({ kind: "home.changed" }).find((e) => String(e.to).includes(ADDR.homePublic)),
    );
  }, 120_000);

  afterAll(() => {
    const out = table();
    console.log(`\nVPN lab detection times (machine: ${navigator.hardwareConcurrency} cores)\n\n${out}\n`);
    mkdirSync("test-output", { recursive: true });
    writeFileSync("test-output/lab-results.md", `${out}\n`);
    writeFileSync("test-output/lab-results.json", JSON.stringify({ rows, deliveries }, null, 2));
    lab?.stopAll();
    teardownWorld();
    console.log(`lab logs kept in ${dir}`);
  });

  /** A fresh client per scenario, so flapping control (4 changes in 10 min) never mutes a scenario. */
  async function freshClient(pass: Pass, id: string): Promise<{ name: string; clientId: string }> {
    const name = `lab-${id}-${pass}-${++serial}`;
    const { id: clientId, token } = lab.enroll(name);
    lab.startClient(name, token, PASSES[pass].client);
    try {
      await lab.until(`${name} to be green`, 60_000, () => lab.clientStatus(clientId) === "green", 500);
    } catch (e) {
      console.error(`${name} never turned green; client log:\n${lab.log(`client-${name}`)}`);
      throw e;
    }
    return { name, clientId };
  }

  async function waitEvent(
    clientId: string,
    kind: string,
    since: number,
    timeoutMs: number,
  ): Promise<LabEvent> {
    return lab.until(`${kind}`, timeoutMs, () =>
      lab
        .events({ client: clientId, since: since - 1000 })
        .find((e) => e.kind === kind && !e.suppressed && Date.parse(e.at) >= since),
    );
  }

  /** Waits for the Telegram message about `name` whose text matches; null when Telegram is not wired in. */
  async function waitMessage(name: string, text: RegExp, since: number, timeoutMs: number) {
    if (!lab.telegram) return null;
    return lab.until(`a Telegram message ${text} about ${name}`, timeoutMs, () =>
      lab.telegramMessages(since).find((m) => m.text.includes(name) && text.test(m.text)),
    );
  }

  interface Fault {
    id: string;
    label: string;
    fault: () => void;
    recover?: () => void;
    event: string;
    reason: RegExp;
    message: RegExp;
    resolvedEvent?: string;
    resolvedMessage?: RegExp;
    forbidden: string[];
    targetMs?: number;
    /** fault → Telegram message, in the default pass */
    alertTargetMs?: number;
    timeoutMs: number;
    /** more about the alert's evidence */
    check?: (ev: LabEvent, pass: Pass) => void;
  }

  async function faultScenario(pass: Pass, f: Fault): Promise<void> {
    const { name, clientId } = await freshClient(pass, f.id);
    const row: Row = {
      pass,
      scenario: `(${f.id}) ${f.label}${f.id === "d" ? ` (${DNS_SOURCE[pass]})` : ""}`,
      event: f.event,
      detectionMs: null,
      alertMs: null,
    };
    rows.push(row);
    if (f.targetMs && pass === "default") row.targetMs = f.targetMs;
    if (f.alertTargetMs && pass === "default" && lab.telegram) row.alertTargetMs = f.alertTargetMs;
    let recovered = false;
    const t0 = Date.now();
    try {
      f.fault();
      const ev = await waitEvent(clientId, f.event, t0, f.timeoutMs);
      row.detectionMs = Date.parse(ev.at) - t0;
      expect(ev.evidence.reason ?? "").toMatch(f.reason);
      f.check?.(ev, pass);
      const msg = await waitMessage(name, f.message, t0, 30_000);
      if (msg) row.alertMs = msg.at - t0;
      if (f.recover) {
        const t1 = Date.now();
        f.recover();
        recovered = true;
        if (f.resolvedEvent) {
          row.resolvedEvent = f.resolvedEvent;
          const back = await waitEvent(clientId, f.resolvedEvent, t1, 120_000);
          row.resolvedMs = Date.parse(back.at) - t1;
          if (f.resolvedMessage) await waitMessage(name, f.resolvedMessage, t1, 30_000);
        }
      }
      const kinds = lab
        .events({ client: clientId, since: t0 })
        .filter((e) => !e.suppressed)
        .map((e) => e.kind);
      for (const bad of f.forbidden) expect(kinds).not.toContain(bad);
      if (f.targetMs && pass === "default") expect(row.detectionMs).toBeLessThanOrEqual(f.targetMs);
      if (row.alertTargetMs) expect(row.alertMs).toBeLessThanOrEqual(row.alertTargetMs);
    } catch (e) {
      console.error(
        `(${f.id}) ${pass} failed; client log:\n${lab.log(`client-${name}`)}\nserver log:\n${lab.log("server")}`,
      );
      throw e;
    } finally {
      if (!recovered) f.recover?.();
      await lab.removeClient(name, clientId);
    }
  }

  const faults: Fault[] = [
    {
      id: "b",
      label: "tunnel drops, no kill switch",
      fault: () => tunnelDown(false),
      recover: healthyRoutes,
      event: "bypass.started",
      reason: /Traffic bypasses the VPN: .*198\.51\.100\.1/,
      message: /traffic bypasses the VPN/,
      resolvedEvent: "bypass.ended",
      resolvedMessage: /bypass resolved/,
      forbidden: ["client.offline", "dns_leak.started"],
      // issue 14: the IP answers are reported without waiting for DNS probes of the dead resolver
      targetMs: 1500,
      alertTargetMs: 2000,
      timeoutMs: 60_000,
    },
    {
      id: "c",
      label: "tunnel drops behind a kill switch",
      fault: () => tunnelDown(true),
      recover: healthyRoutes,
      event: "client.offline",
      reason: /No report for/,
      message: /is offline/,
      resolvedEvent: "client.online",
      resolvedMessage: /is back online/,
      forbidden: ["bypass.started", "dns_leak.started"],
      targetMs: 120_000,
      timeoutMs: 180_000,
    },
    {
      id: "d",
      label: "DNS to the ISP's resolver, exit in the VPN",
      fault: () => setClientResolver(lab.files, ADDR.ispLan),
      recover: () => setClientResolver(lab.files, ADDR.vpnTun),
      event: "dns_leak.started",
      reason: /DNS leaks: .*198\.51\.100\.53/,
      // the default pass has the oracle alone, the fast pass the "who is asking" names alone
      check: (ev, pass) => {
        expect(ev.evidence.source).toBe(pass === "default" ? "oracle" : "probes");
        expect(ev.evidence.reason ?? "").toContain(
          pass === "default" ? "Seen by this server's DNS oracle." : "Named by the who-is-asking probes.",
        );
      },
      message: /DNS leak/,
      resolvedEvent: "dns_leak.ended",
      resolvedMessage: /DNS leak resolved/,
      forbidden: ["bypass.started", "client.offline"],
      targetMs: 40_000,
      timeoutMs: 90_000,
    },
    {
      id: "e",
      label: "IPv6 around a v4-only tunnel",
      fault: ipv6AroundTunnel,
      recover: healthyRoutes,
      event: "ipv6_leak.started",
      reason: /IPv6 bypasses the VPN: .*2001:db8:51::1/,
      message: /IPv6 leak/,
      resolvedEvent: "ipv6_leak.ended",
      resolvedMessage: /IPv6 leak resolved/,
      forbidden: ["client.offline", "dns_leak.started"],
      // issue 7 sets no target for this one; see docs/lab.md for why the first probe can miss it
      timeoutMs: 60_000,
    },
    {
      id: "f",
      label: "the VPN exit moves (203.0.113.1 SE → 203.0.113.129 NL)",
      fault: () => setVpnExit(ADDR.vpnExit2),
      recover: () => setVpnExit(ADDR.vpnExit),
      event: "exit.changed",
      reason: /Exit moved from 203\.0\.113\.1\b.* to 203\.0\.113\.129/,
      message: /exit changed/,
      resolvedEvent: "exit.changed",
      forbidden: ["bypass.started", "client.offline", "dns_leak.started"],
      timeoutMs: 90_000,
    },
  ];

  test.if(wanted("a"))(
    "(a) healthy: green, no alert",
    async () => {
      const { name, clientId } = await freshClient("default", "a");
      const t0 = Date.now();
      try {
        await Bun.sleep(HEALTHY_S * 1000);
        expect(lab.clientStatus(clientId)).toBe("green");
        const alerts = lab.events({ client: clientId, since: t0 }).filter((e) => !e.suppressed);
        expect(alerts.map((e) => e.kind)).toEqual([]);
        if (lab.telegram) expect(lab.telegramMessages(t0).filter((m) => m.text.includes(name))).toEqual([]);
        rows.push({
          pass: "default",
          scenario: `(a) healthy for ${HEALTHY_S} s`,
          event: "none",
          detectionMs: null,
          alertMs: null,
          note: "no alert",
        });
      } finally {
        await lab.removeClient(name, clientId);
      }
    },
    HEALTHY_S * 1000 + 120_000,
  );

  for (const f of faults)
    test.if(wanted(f.id))(
      `(${f.id}) ${f.label}: ${f.event}`,
      () => faultScenario("default", f),
      f.timeoutMs + 240_000,
    );

  test.if(wanted("g"))(
    "(g) server restarted mid-run: no false alert",
    async () => {
      const { name, clientId } = await freshClient("default", "g");
      try {
        const t0 = Date.now();
        await lab.restartServer(undefined, 15_000);
        // the deadlines after a restart are start + interval + grace: watch past them
        await Bun.sleep(100_000);
        const alerts = lab.events({ client: clientId, since: t0 }).filter((e) => !e.suppressed);
        expect(alerts.map((e) => e.kind)).toEqual([]);
        expect(lab.clientStatus(clientId)).toBe("green");
        rows.push({
          pass: "default",
          scenario: "(g) server down 15 s, watched 100 s",
          event: "none",
          detectionMs: null,
          alertMs: null,
          note: "no alert",
        });
      } finally {
        await lab.removeClient(name, clientId);
      }
    },
    300_000,
  );

  test.if(wanted("h") && !unavailable)(
    "(h) Telegram down 60 s during a fault: the alert arrives once afterwards",
    async () => {
      if (!lab.telegram) {
        console.warn("(h) skipped: `sentinel server` has no Telegram channel yet");
        return;
      }
      const { name, clientId } = await freshClient("default", "h");
      const row: Row = {
        pass: "default",
        scenario: "(h) Telegram down 60 s during a bypass",
        event: "bypass.started",
        detectionMs: null,
        alertMs: null,
      };
      rows.push(row);
      try {
        await lab.stopTelegram();
        const down = Date.now();
        tunnelDown(false);
        const ev = await waitEvent(clientId, "bypass.started", down, 60_000);
        row.detectionMs = Date.parse(ev.at) - down;
        await Bun.sleep(Math.max(0, down + 60_000 - Date.now()));
        lab.startTelegram();
        const msg = await waitMessage(name, /traffic bypasses the VPN/, down, 11 * 60_000);
        row.alertMs = msg ? msg.at - down : null;
        row.note = "delivered after Telegram came back";
        await Bun.sleep(20_000);
        const sent = lab
          .telegramMessages(down)
          .filter((m) => m.text.includes(name) && /traffic bypasses the VPN/.test(m.text));
        expect(sent.length).toBe(1);
      } finally {
        lab.startTelegram();
        healthyRoutes();
        await lab.removeClient(name, clientId);
      }
    },
    15 * 60_000,
  );

  test.if(wanted("j") && !unavailable)(
    "(j) one bypass reaches Telegram, ntfy, a webhook and MQTT exactly once: ntfy down 60 s, a kill -9 in between",
    async () => {
      if (!lab.telegram || !lab.urlChannels) {
        console.warn("(j) skipped: `sentinel server` has no Telegram or --notify channels yet");
        return;
      }
      const { name, clientId } = await freshClient("default", "j");
      const row: Row = {
        pass: "default",
        scenario: "(j) four channels, ntfy down 60 s, server kill -9 meanwhile",
        event: "bypass.started",
        detectionMs: null,
        alertMs: null,
      };
      rows.push(row);
      const bypass = /traffic bypasses the VPN/;
      const mqttEvent = (payload: string) => {
        const e = JSON.parse(payload) as { type?: string; data?: { client?: { name?: string } | null } };
        return e.type === "bypass.started" && e.data?.client?.name === name;
      };
      // what each channel received about this bypass, oldest first
      const received: Record<string, (since: number) => { at: number }[]> = {
        telegram: (since) =>
          lab.telegramMessages(since).filter((m) => m.text.includes(name) && bypass.test(m.text)),
        ntfy: (since) =>
          lab.ntfyMessages(since).filter((m) => m.title.includes(name) && bypass.test(m.title)),
        webhook: (since) =>
          lab.webhookEvents(since).filter((e) => e.type === "bypass.started" && e.client === name),
        mqtt: (since) =>
          lab.mqttMessages(since).filter((m) => m.topic === `${MQTT_PREFIX}/events` && mqttEvent(m.payload)),
      };
      const status = (since: number, payload: string) =>
        lab.mqttMessages(since).find((m) => m.topic === `${MQTT_PREFIX}/status` && m.payload === payload);
      try {
        await lab.stopNtfy();
        const t0 = Date.now();
        tunnelDown(false);
        const ev = await waitEvent(clientId, "bypass.started", t0, 60_000);
        row.detectionMs = Date.parse(ev.at) - t0;
        for (const channel of ["telegram", "webhook", "mqtt"])
          await lab.until(`the bypass alert on ${channel}`, 30_000, () => received[channel]?.(t0).length);
        row.alertMs = (received.telegram?.(t0)[0]?.at ?? t0) - t0;
        // their rows are marked delivered well before the crash
        await Bun.sleep(2_000);
        const killedAt = Date.now();
        await lab.crashAndRestartServer();
        const restartedAt = Date.now();
        // the broker tells Home Assistant the server died (its last will), then that it is back
        const will = await lab.until("the MQTT last will", 30_000, () => status(killedAt, "offline"));
        const online = await lab.until("the server online again on MQTT", 60_000, () =>
          status(will.at, "online"),
        );
        await Bun.sleep(Math.max(0, t0 + 60_000 - Date.now()));
        lab.startNtfy();
        const back = Date.now();
        await lab.until("the bypass alert on ntfy", 11 * 60_000, () => received.ntfy?.(t0).length);
        // a copy sent again (after the crash, or by a retry) would have arrived by now
        await Bun.sleep(20_000);
        const events = lab
          .events({ client: clientId, since: t0 })
          .filter((e) => e.kind === "bypass.started" && !e.suppressed);
        expect(events).toHaveLength(1);
        const notes: Record<string, string> = {
          telegram: "before the crash",
          webhook: "before the crash",
          mqtt: `before the crash; after the kill -9: last will "offline" at ${fmt(will.at - killedAt)}, "online" at ${fmt(online.at - killedAt)} (the restarted server answered /healthz at ${fmt(restartedAt - killedAt)})`,
          ntfy: `down for the first ${fmt(back - t0)}; delivered ${fmt((received.ntfy?.(t0)[0]?.at ?? back) - back)} after it came back (backoff), by the restarted server`,
        };
        for (const channel of ["telegram", "ntfy", "webhook", "mqtt"]) {
          const got = received[channel]?.(t0) ?? [];
          deliveries.push({
            channel,
            ms: got[0] ? got[0].at - t0 : null,
            copies: got.length,
            note: notes[channel] ?? "",
          });
        }
        expect(deliveries.map((d) => [d.channel, d.copies])).toEqual([
          ["telegram", 1],
          ["ntfy", 1],
          ["webhook", 1],
          ["mqtt", 1],
        ]);
      } catch (e) {
        console.error(`(j) failed; server log:\n${lab.log("server", 60)}`);
        throw e;
      } finally {
        lab.startNtfy();
        healthyRoutes();
        await lab.removeClient(name, clientId);
      }
    },
    20 * 60_000,
  );

  test.if(FAST_PASS && faults.some((f) => wanted(f.id)))(
    "fastest documented settings: --interval 10s, --grace 15s, --watch-interval 250ms",
    async () => {
      await lab.useDnsEvidence(DNS_SOURCE.fast);
      await lab.restartServer(PASSES.fast.server);
      const errors: string[] = [];
      for (const f of faults.filter((x) => wanted(x.id))) {
        try {
          await faultScenario("fast", { ...f, timeoutMs: Math.min(f.timeoutMs, 90_000) });
        } catch (e) {
          errors.push(`(${f.id}) ${(e as Error).message}`);
        }
      }
      await lab.useDnsEvidence(DNS_SOURCE.default);
      await lab.restartServer([]);
      expect(errors).toEqual([]);
    },
    15 * 60_000,
  );
});
