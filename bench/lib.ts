/** Shared pieces of the benchmarks: process statistics, percentiles, reports, the server under test. */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { ReportV1 } from "../src/protocol/report.ts";
import type { Keyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import type { Store } from "../src/server/store/index.ts";

export const REPO = join(import.meta.dir, "..");
export const CLK_TCK = 100;
export const INGEST_INTERVAL_S = 3600;

export interface Credentials {
  id: string;
  secret: string;
}

/** What bench/loadgen.ts prints as its last line. */
export interface LoadResult {
  requests: number;
  errors: number;
  firstError: string;
  statuses: Record<string, number>;
  elapsedS: number;
  perS: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Enrolls n clients named `<prefix>-<i>` into an open store, 5,000 per transaction. */
export async function enrollMany(
  store: Store,
  keyring: Keyring,
  n: number,
  prefix = "bench",
): Promise<Credentials[]> {
  const creds: Credentials[] = [];
  const now = Date.now();
  const batch = 5_000;
  for (let from = 0; from < n; from += batch)
    await store.transaction(async (tx) => {
      for (let i = from; i < Math.min(n, from + batch); i++) {
        const e = await enrollClient(tx, keyring, `${prefix}-${i}`, "http://127.0.0.1:1", now);
        creds.push({ id: e.id, secret: e.secret });
      }
    });
  return creds;
}

/** Resident memory of a process in MiB (VmRSS), and its peak (VmHWM). */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { rssMiB: kb("VmRSS") / 1024, peakMiB: kb("VmHWM") / 1024 };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** Bytes of every file in a directory (the database, its WAL and shared memory). */
export function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

/**
 * A healthy report as `sentinel client` sends it: three IPv4 providers, IPv6, two DNS probes.
 * The ingest benchmarks declare a one-hour interval (INGEST_INTERVAL_S): between their rounds a
 * server gets no reports for a minute or more, and a 30 s interval would make all its clients
 * late at once in the middle of the next round, which measures the sweeper, not ingest.
 */
export function healthyReport(exit = "203.0.113.7", intervalS = 30): ReportV1 {
  const answer = (provider: string, ip: string) => ({ provider, ip, latency_ms: 40, error: null });
  return {
    v: 1,
    agent: { version: "0.1.0", os: "linux", arch: "x64", hostname: "bench" },
    observed_at: new Date().toISOString(),
    interval_s: intervalS,
    ipv4: {
      ip: exit,
      consistent: true,
      answers: [
        answer("https://api.ipify.org", exit),
        answer("https://ipv4.icanhazip.com", exit),
        answer("https://v4.ident.me", exit),
      ],
    },
    ipv6: {
      ip: "2001:db8:113::7",
      consistent: true,
      answers: [
        answer("https://api6.ipify.org", "2001:db8:113::7"),
        answer("https://v6.ident.me", "2001:db8:113::7"),
      ],
    },
    dns: [
      {
        probe: "whoami.akamai.net",
        type: "A",
        via: "10.64.0.1",
        answers: ["203.0.113.53"],
        latency_ms: 20,
        error: null,
      },
      {
        probe: "o-o.myaddr.l.google.com",
        type: "TXT",
        via: "10.64.0.1",
        answers: ["203.0.113.53"],
        latency_ms: 25,
        error: null,
      },
    ],
    errors: [],
  };
}

/** Gives the documentation ranges an identity (a VPN exit in SE, home in DE). */
export function writeGeoOverrides(path: string): string {
  writeFileSync(
    path,
    JSON.stringify([
      { cidr: "203.0.113.0/24", country: "SE", asn: 64501, org: "Bench VPN" },
      { cidr: "198.51.100.0/24", country: "DE", asn: 64500, org: "Bench ISP" },
    ]),
  );
  return path;
}

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer in ${timeoutMs} ms`);
    await Bun.sleep(100);
  }
}

/**
 * The JavaScriptCore settings the server's systemd unit (and the container image) gives it:
 * servers started here run as installed (SENTINEL_BENCH_JSC_DEFAULTS=1: with Bun's defaults, to
 * compare).
 */
export const INSTALLED_SERVER_ENV: Readonly<Record<string, string>> = Bun.env.SENTINEL_BENCH_JSC_DEFAULTS
  ? {}
  : Object.fromEntries(
      [
        ...readFileSync(join(REPO, "systemd", "vpn-sentinel-server.service"), "utf8").matchAll(
          /^Environment=(BUN_JSC_\w+)=(\S+)$/gm,
        ),
      ].map((m) => [m[1] as string, m[2] as string]),
    );

/**
 * `sentinel server` as its own process on loopback: home learning off (no provider is ever
 * asked), rate limiting effectively off so it does not distort the numbers.
 */
export async function startSentinelServer(
  dataDir: string,
  opts: { extraArgs?: string[]; cpuProfDir?: string; bin?: string } = {},
): Promise<{ proc: Subprocess; url: string; port: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // a profile needs bun's --cpu-prof: from source
  const bin = opts.cpuProfDir ? undefined : (opts.bin ?? Bun.env.SENTINEL_BENCH_BIN);
  const cmd = bin
    ? [bin]
    : [
        process.execPath,
        ...(opts.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfDir}`, "--cpu-prof-md"] : []),
        join(REPO, "src", "main.ts"),
      ];
  const proc = Bun.spawn(
    [
      ...cmd,
      "server",
      "--listen",
      `127.0.0.1:${port}`,
      "--data-dir",
      dataDir,
      "--public-url",
      url,
      "--home-ip",
      "198.51.100.1",
      "--report-rate",
      "1000000",
      "--geo-overrides",
      writeGeoOverrides(join(dataDir, "..", "geo-overrides.json")),
      "--log-level",
      "warn",
      ...(opts.extraArgs ?? []),
    ],
    {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        SENTINEL_HOME_LEARN: "false",
        ...INSTALLED_SERVER_ENV,
      },
      stdout: "inherit",
      stderr: "inherit",
    },
  );
  await waitHttp(`${url}/healthz`);
  return { proc, url, port };
}

export async function stopProcess(proc: Subprocess, graceMs = 10_000): Promise<void> {
  proc.kill("SIGTERM");
  const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
  if (!done) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}
