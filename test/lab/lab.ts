/**
 * Running the lab: the sentinel server in `home`, clients in `client`, the Internet services and
 * the two resolvers; talking to the server's API from inside `home` (curl via ip netns exec, so
 * the test never needs a route into the lab).
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  ADDR,
  buildWorld,
  inNs,
  NS,
  type NsName,
  ORACLE_ZONE,
  run,
  SERVER_PORT,
  SERVER_URL,
  type WorldFiles,
  writeResolverConfs,
} from "./world.ts";

const REPO = join(import.meta.dir, "..", "..");

/** The sentinel command: a compiled binary from SENTINEL_LAB_BIN, else the source. */
export function sentinelCommand(): string[] {
  const bin = Bun.env.SENTINEL_LAB_BIN;
  return bin ? [bin] : [process.execPath, join(REPO, "src", "main.ts")];
}

export interface LabEvent {
  id: number;
  client_id: string | null;
  kind: string;
  from: string | null;
  to: string | null;
  at: string;
  suppressed: boolean;
  evidence: { reason?: string } & Record<string, unknown>;
}

export interface TelegramMessage {
  at: number;
  chat_id: unknown;
  text: string;
}

/** What the lab's notification services received, one JSON line each (see services.ts). */
export interface NtfyMessage {
  at: number;
  topic: string;
  title: string;
  message: string;
}
export interface WebhookEvent {
  at: number;
  /** webhook-id: the same on every retry of one notification */
  id: string;
  type: string;
  client: string | null;
  title: string;
}
export interface MqttMessage {
  at: number;
  topic: string;
  payload: string;
  retain: boolean;
}

/** The lab's alert channels besides Telegram: URLs for --notify, credentials for the recorder. */
export const WEBHOOK_SECRET = `whsec_${Buffer.from("sentinel-lab-webhook-secret-32by").toString("base64")}`;
export const MQTT_PREFIX = "vpn-sentinel";
const MQTT_USERS = { sentinel: "lab-mqtt-pass", recorder: "lab-recorder-pass" };
export const NOTIFY_URLS = [
  `ntfy://${ADDR.ntfy}/lab-alerts`,
  `webhook+http://${ADDR.webhook}/hook?secret=${WEBHOOK_SECRET}`,
  `mqtt://sentinel:${MQTT_USERS.sentinel}@${ADDR.mqtt}/${MQTT_PREFIX}`,
];

export const ECHO_V4 = [`http://${ADDR.echo}/`, `http://${ADDR.echo}:8080/`];
export const ECHO_V6 = [`http://[${ADDR.echo6}]/`, `http://[${ADDR.echo6}]:8080/`];

export class Lab {
  readonly files: WorldFiles;
  private readonly procs = new Map<string, Subprocess>();
  private adminToken = "";
  readonly dataDir: string;
  readonly telegramLog: string;
  readonly ntfyLog: string;
  readonly webhookLog: string;
  readonly mqttLog: string;
  /** true when `sentinel server` has the Telegram options (the alert channel is wired in) */
  readonly telegram: boolean;
  /** true when `sentinel server` takes --notify URLs (ntfy, webhooks, MQTT) */
  readonly urlChannels: boolean;
  private serverArgs: string[] = [];
  /** whether the server runs its DNS oracle (--dns-zone) */
  oracle = true;
  /** whether the "who is asking" stand-ins (whoami.akamai.net, o-o.myaddr.l.google.com) answer */
  private standIns = false;

  constructor(readonly dir: string) {
    this.files = buildWorld(dir);
    this.dataDir = join(dir, "server-data");
    this.telegramLog = join(dir, "telegram.jsonl");
    this.ntfyLog = join(dir, "ntfy.jsonl");
    this.webhookLog = join(dir, "webhook.jsonl");
    this.mqttLog = join(dir, "mqtt.jsonl");
    const help = run([...sentinelCommand(), "server", "--help"], { allowFail: true });
    this.telegram = /--telegram-token\b/.test(help.stdout + help.stderr);
    this.urlChannels = /--notify\b/.test(help.stdout + help.stderr);
  }

  /** Starts a long-running process inside a namespace, output to DIR/NAME.log. */
  spawn(name: string, ns: NsName, cmd: string[]): Subprocess {
    this.stop(name);
    const p = Bun.spawn(["ip", "netns", "exec", NS[ns], ...cmd], {
      // from source, Bun takes tsconfig.json (JSX settings) from the working directory
      cwd: REPO,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: this.dir, NO_COLOR: "1" },
      stdin: "ignore",
      stdout: Bun.file(join(this.dir, `${name}.log`)),
      stderr: Bun.file(join(this.dir, `${name}.err.log`)),
    });
    this.procs.set(name, p);
    return p;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stopAsync(name: string, graceMs = 5000): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    this.procs.delete(name);
    p.kill("SIGTERM");
    const exited = await Promise.race([p.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!exited) {
      p.kill("SIGKILL");
      await p.exited;
    }
  }

  stop(name: string): void {
    const p = this.procs.get(name);
    if (!p) return;
    this.procs.delete(name);
    p.kill("SIGKILL");
  }

  /** SIGKILL (a crash: no clean shutdown, no last words but the MQTT will); resolves when it is gone. */
  async kill(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    this.procs.delete(name);
    p.kill("SIGKILL");
    await p.exited;
  }

  stopAll(): void {
    for (const name of [...this.procs.keys()]) this.stop(name);
  }

  log(name: string, lines = 30): string {
    const out: string[] = [];
    for (const f of [`${name}.log`, `${name}.err.log`]) {
      const path = join(this.dir, f);
      if (existsSync(path)) out.push(...readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines));
    }
    return out.join("\n");
  }

  async startServices(): Promise<void> {
    const services = join(import.meta.dir, "services.ts");
    this.spawn("echo", "internet", [process.execPath, services, "echo", ADDR.echo, ADDR.echo6]);
    this.startTelegram();
    if (this.urlChannels) await this.startNotifyServices();
    await this.startResolvers();
    await this.until("the lab's services answer", 15_000, () => {
      const echo = inNs("client", ["curl", "-s", "-m", "2", ECHO_V4[0] as string], {
        allowFail: true,
      }).stdout.trim();
      return echo === ADDR.vpnExit;
    });
  }

  /** The two resolvers, and the "who is asking" stand-in while it is on. */
  private async startResolvers(): Promise<void> {
    const confs = writeResolverConfs(this.dir, this.standIns);
    if (this.standIns)
      this.spawn("auth-dns", "internet", [
        process.execPath,
        join(import.meta.dir, "services.ts"),
        "dns",
        ADDR.authDns,
      ]);
    else await this.stopAsync("auth-dns");
    // a restart: the old resolvers must let go of port 53 first
    await this.stopAsync("unbound-isp");
    await this.stopAsync("unbound-vpn");
    this.spawn("unbound-isp", "isp", ["unbound", "-d", "-c", confs.unboundIsp]);
    this.spawn("unbound-vpn", "vpn", ["unbound", "-d", "-c", confs.unboundVpn]);
    // both answer; the stand-in's names resolve to the resolver's egress, or are refused without it
    await this.until("the resolvers answer", 15_000, () =>
      [
        [ADDR.vpnTun, ADDR.vpnResolverEgress],
        [ADDR.ispLan, ADDR.ispResolverEgress],
      ].every(([resolver, egress]) => {
        const out = inNs("client", ["dig", `@${resolver}`, "+time=1", "+tries=1", "whoami.akamai.net", "A"], {
          allowFail: true,
        }).stdout;
        return this.standIns ? new RegExp(`IN\\s+A\\s+${egress}`).test(out) : out.includes("status: REFUSED");
      }),
    );
  }

  /**
   * Which DNS evidence the lab offers: the server's oracle (--dns-zone) or the third-party
   * "who is asking" stand-ins, never both, so each pass shows one source works alone. Takes
   * effect at the next server start.
   */
  async useDnsEvidence(source: "oracle" | "probes"): Promise<void> {
    this.oracle = source === "oracle";
    if (this.standIns === !this.oracle) return;
    this.standIns = !this.oracle;
    await this.startResolvers();
  }

  /** The oracle answers through the VPN's resolver: its TXT names the resolver that asked. */
  /** The server's DNS listener answers for the oracle zone (asked directly, from its own namespace). */
  private async oracleListens(): Promise<void> {
    await this.until("the DNS oracle to answer on the server's listener", 20_000, () =>
      inNs("home", ["dig", "+short", "+time=1", "+tries=1", "@127.0.0.1", `ready.${ORACLE_ZONE}`, "TXT"], {
        allowFail: true,
      }).stdout.trim(),
    );
  }

  /**
   * The VPN's resolver reaches the oracle (the stub zone works). Checked once with the tunnel up:
   * a restart during a scenario may find the tunnel down on purpose.
   */
  async oracleAnswersThroughVpn(): Promise<void> {
    await this.until("the DNS oracle to answer through the VPN's resolver", 20_000, () => {
      const txt = inNs("client", ["dig", "+short", "+time=1", "+tries=1", `ready.${ORACLE_ZONE}`, "TXT"], {
        allowFail: true,
      }).stdout.trim();
      return txt === `"${ADDR.vpnResolverEgress}"`;
    });
  }

  startTelegram(): void {
    this.spawn("telegram", "internet", [
      process.execPath,
      join(import.meta.dir, "services.ts"),
      "telegram",
      ADDR.telegram,
      this.telegramLog,
    ]);
  }

  async stopTelegram(): Promise<void> {
    await this.stopAsync("telegram");
  }

  /** ntfy and the webhook receiver (fakes that check each request), a real Mosquitto and a recorder on it. */
  private async startNotifyServices(): Promise<void> {
    this.startNtfy();
    this.spawn("webhook", "internet", [
      process.execPath,
      join(import.meta.dir, "services.ts"),
      "webhook",
      ADDR.webhook,
      WEBHOOK_SECRET,
      this.webhookLog,
    ]);
    const passwords = join(this.dir, "mosquitto.passwd");
    writeFileSync(passwords, "");
    for (const [user, pass] of Object.entries(MQTT_USERS))
      run(["mosquitto_passwd", "-b", passwords, user, pass]);
    const conf = join(this.dir, "mosquitto.conf");
    writeFileSync(
      conf,
      [
        `listener 1883 ${ADDR.mqtt}`,
        "allow_anonymous false",
        `password_file ${passwords}`,
        // the lab's files are root's: stay root instead of dropping to the mosquitto user
        "user root",
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "",
      ].join("\n"),
    );
    this.spawn("mosquitto", "internet", ["mosquitto", "-c", conf]);
    await this.until(
      "Mosquitto to listen",
      10_000,
      () =>
        inNs("internet", ["bash", "-c", `exec 3<>/dev/tcp/${ADDR.mqtt}/1883`], { allowFail: true }).code ===
        0,
    );
    this.spawn("mqtt-recorder", "internet", [
      process.execPath,
      join(import.meta.dir, "services.ts"),
      "mqtt-record",
      `mqtt://recorder:${MQTT_USERS.recorder}@${ADDR.mqtt}`,
      this.mqttLog,
    ]);
  }

  startNtfy(): void {
    this.spawn("ntfy", "internet", [
      process.execPath,
      join(import.meta.dir, "services.ts"),
      "ntfy",
      ADDR.ntfy,
      this.ntfyLog,
    ]);
  }

  async stopNtfy(): Promise<void> {
    await this.stopAsync("ntfy");
  }

  /** Creates the admin API token (after the first server start: the server makes the data dir). */
  createAdminToken(): void {
    const r = run([
      ...sentinelCommand(),
      "tokens",
      "add",
      "lab",
      "--role",
      "admin",
      "--json",
      "--data-dir",
      this.dataDir,
    ]);
    this.adminToken = (JSON.parse(r.stdout) as { token: string }).token;
  }

  async startServer(extra: string[] = []): Promise<void> {
    this.serverArgs = extra;
    this.spawn("server", "home", [
      ...sentinelCommand(),
      "server",
      "--listen",
      `0.0.0.0:${SERVER_PORT}`,
      "--data-dir",
      this.dataDir,
      "--public-url",
      SERVER_URL,
      ...ECHO_V4.flatMap((u) => ["--ip4-provider", u]),
      ...ECHO_V6.flatMap((u) => ["--ip6-provider", u]),
      "--geo-overrides",
      this.files.geoOverrides,
      ...(this.oracle
        ? ["--dns-zone", ORACLE_ZONE, "--dns-listen", "0.0.0.0:53", "--dns-answer-ip", ADDR.homePublic]
        : []),
      ...(this.telegram
        ? [
            "--telegram-token",
            "4242:lab-token",
            "--telegram-chat",
            "4242",
            "--telegram-api-root",
            `http://${ADDR.telegram}`,
            "--telegram-mode",
            "off",
          ]
        : []),
      ...(this.urlChannels ? NOTIFY_URLS.flatMap((u) => ["--notify", u]) : []),
      ...extra,
    ]);
    await this.until("the server answers /healthz", 20_000, () => this.curl("/healthz").code === 0);
    if (this.oracle) await this.oracleListens();
  }

  /** kill -9 the server, then start it again with the same options. */
  async crashAndRestartServer(): Promise<void> {
    await this.kill("server");
    await this.startServer(this.serverArgs);
  }

  async restartServer(extra = this.serverArgs, downMs = 0): Promise<void> {
    await this.stopAsync("server");
    if (downMs) await Bun.sleep(downMs);
    await this.startServer(extra);
  }

  curl(path: string, method = "GET", body?: unknown): { code: number; status: number; json: unknown } {
    const args = ["curl", "-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}", "-X", method];
    if (this.adminToken) args.push("-H", `Authorization: Bearer ${this.adminToken}`);
    if (body !== undefined)
      args.push("-H", "Content-Type: application/json", "--data-binary", JSON.stringify(body));
    args.push(`http://127.0.0.1:${SERVER_PORT}${path}`);
    const r = inNs("home", args, { allowFail: true });
    const nl = r.stdout.lastIndexOf("\n");
    const status = Number(r.stdout.slice(nl + 1)) || 0;
    let json: unknown = null;
    try {
      json = JSON.parse(r.stdout.slice(0, nl));
    } catch {
      // not JSON (204, or an error page)
    }
    return { code: r.code, status, json };
  }

  /** Enrolls a client and returns its id and token. */
  enroll(name: string): { id: string; token: string } {
    const r = run([
      ...sentinelCommand(),
      "clients",
      "add",
      name,
      "--json",
      "--data-dir",
      this.dataDir,
      "--public-url",
      SERVER_URL,
    ]);
    const j = JSON.parse(r.stdout) as { id: string; token: string };
    return { id: j.id, token: j.token };
  }

  startClient(name: string, token: string, extra: string[] = []): void {
    this.spawn(`client-${name}`, "client", [
      ...sentinelCommand(),
      "client",
      "--token",
      token,
      ...ECHO_V4.flatMap((u) => ["--ip4-provider", u]),
      ...ECHO_V6.flatMap((u) => ["--ip6-provider", u]),
      "--spool-dir",
      join(this.dir, "spool"),
      "--log-level",
      "debug",
      ...extra,
    ]);
  }

  async removeClient(name: string, id: string): Promise<void> {
    await this.stopAsync(`client-${name}`);
    this.curl(`/api/v1/clients/${id}`, "DELETE");
  }

  clientStatus(id: string): string | null {
    const r = this.curl(`/api/v1/clients/${id}`);
    return (r.json as { status?: string } | null)?.status ?? null;
  }

  events(query: { client?: string; since?: number; kind?: string } = {}): LabEvent[] {
    const q = new URLSearchParams({ limit: "500" });
    if (query.client) q.set("client", query.client);
    if (query.since !== undefined) q.set("since", String(query.since));
    if (query.kind) q.set("kind", query.kind);
    const r = this.curl(`/api/v1/events?${q}`);
    const events = (r.json as { events?: LabEvent[] } | null)?.events ?? [];
    return events.reverse(); // oldest first
  }

  telegramMessages(since = 0): TelegramMessage[] {
    return readLog<TelegramMessage>(this.telegramLog, since);
  }

  ntfyMessages(since = 0): NtfyMessage[] {
    return readLog<NtfyMessage>(this.ntfyLog, since);
  }

  webhookEvents(since = 0): WebhookEvent[] {
    return readLog<WebhookEvent>(this.webhookLog, since);
  }

  mqttMessages(since = 0): MqttMessage[] {
    return readLog<MqttMessage>(this.mqttLog, since);
  }

  /** Polls `check` every `everyMs` until it returns a truthy value; throws after `timeoutMs`. */
  async until<T>(
    what: string,
    timeoutMs: number,
    check: () => T | null | undefined | false,
    everyMs = 250,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      await Bun.sleep(everyMs);
    }
  }
}

/** The JSON lines of a service's log written at or after `since`. */
function readLog<T extends { at: number }>(file: string, since: number): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T)
    .filter((m) => m.at >= since);
}
