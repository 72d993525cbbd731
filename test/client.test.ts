/**
 * The real `sentinel client` / `sentinel check` processes against local fakes only:
 * a signature-checking report receiver, IP-echo providers (plain, JSON, rate-limited) and a
 * UDP DNS server answering "who is asking" names with the asking address.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ReportV1 } from "../src/protocol/report.ts";
import { encodeToken } from "../src/protocol/token.ts";
import { startFakeDns } from "./fakes/dns.ts";
import { startFakeEcho } from "./fakes/echo.ts";
import { startFakeReceiver } from "./fakes/receiver.ts";

const ROOT = join(import.meta.dir, "..");
const CLIENT_ID = "lab-client-1";
const SECRET = "Zx9-very-secret-value-QQ7";
const rx = startFakeReceiver({ clients: { [CLIENT_ID]: SECRET } });
const TOKEN = encodeToken({ server: rx.url, clientId: CLIENT_ID, secret: SECRET });
/** What the echo services see: a stand-in public exit (the server's whoami sees loopback). */
const EXIT = "198.51.100.7";
const plain = startFakeEcho({ answer: EXIT });
const json = startFakeEcho({ answer: EXIT, format: "json", jsonKey: "address" });
const limited = startFakeEcho({ status: 429, retryAfter: "120" });
const v6 = startFakeEcho({ answer: "2001:db8::7", format: "json" });
const dns = await startFakeDns();
const DEAD = "http://127.0.0.1:9"; // nothing listens on the discard port: connection refused

afterAll(async () => {
  for (const e of [plain, json, limited, v6]) e.stop();
  rx.stop();
  await dns.stop();
});

let tmp = "";
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "sentinel-client-"));
  rx.reports.length = 0;
  rx.attempts.length = 0;
  rx.failWith = null;
  rx.delayMs = 0;
  rx.nextReportInS = null;
  rx.verdict = { status: "green", reasons: ["Protected (the fake receiver says so)."] };
  dns.silent = false;
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const spoolDir = () => join(tmp, "spool");
const spooled = () => {
  try {
    return readdirSync(join(spoolDir(), CLIENT_ID))
      .filter((n) => n.endsWith(".json"))
      .sort();
  } catch {
    return [];
  }
};

const probeArgs = () => [
  "--ip4-provider",
  plain.url,
  "--ip4-provider",
  json.url,
  "--ip4-provider",
  limited.url,
  "--ip6-provider",
  v6.url,
  "--dns-resolver",
  `127.0.0.1:${dns.port}`,
  "--timeout",
  "1s",
];
const clientArgs = (...extra: string[]) => [
  "client",
  ...probeArgs(),
  "--spool-dir",
  spoolDir(),
  "--log-level",
  "debug",
  ...extra,
];

function spawn(args: string[], env: Record<string, string> = {}) {
  // A clean environment: no SENTINEL_* from the developer's shell leaks in.
  const proc = Bun.spawn(["bun", "src/main.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: tmp, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { stdout: "", stderr: "" };
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const dec = new TextDecoder();
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read())
      out[key] += dec.decode(r.value, { stream: true });
  };
  const drained = Promise.all([pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr")]);
  return { proc, out, done: async () => ({ code: await proc.exited, ...(await drained.then(() => out)) }) };
}
const run = (args: string[], env: Record<string, string> = {}) => spawn(args, env).done();

const waitFor = async (cond: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
};

describe("sentinel client --once", () => {
  test("probes everything, signs, sends, exits 0", async () => {
    const r = await run(clientArgs("--once"), { SENTINEL_TOKEN: TOKEN });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(rx.reports).toHaveLength(1);
    const { report, clientId } = rx.reports[0] as { report: ReportV1; clientId: string };
    expect(clientId).toBe(CLIENT_ID);
    expect(report.agent?.version).toBeString();
    expect(report.interval_s).toBe(30);
    // the echo services agree on the exit; the rate-limited one is an error; the server's
    // whoami, reached over loopback, is kept as evidence but neither names nor disputes the exit
    expect(report.ipv4.ip).toBe(EXIT);
    expect(report.ipv4.consistent).toBe(true);
    expect(report.ipv4.answers[3]?.ip).toBe("127.0.0.1");
    expect(report.ipv4.answers.map((a) => a.provider)).toEqual([
      plain.url,
      json.url,
      limited.url,
      `${rx.url}/api/v1/whoami`,
    ]);
    expect(report.ipv4.answers[2]?.error).toBe("HTTP 429 (Retry-After 120 s)");
    expect(report.ipv6?.ip).toBe("2001:db8::7"); // whoami answered IPv4, so it is not IPv6 evidence
    expect(report.dns).toEqual([
      expect.objectContaining({
        probe: "whoami.akamai.net",
        type: "A",
        via: `127.0.0.1:${dns.port}`,
        answers: ["127.0.0.1"],
      }),
      expect.objectContaining({
        probe: "o-o.myaddr.l.google.com",
        type: "TXT",
        answers: ["127.0.0.1", "edns0-client-subnet 192.0.2.0/24"],
      }),
    ]);
    expect(spooled()).toEqual([]);
  });

  test("failed probes are reported with their reasons, not withheld", async () => {
    dns.silent = true;
    const args = [
      "client",
      "--ip4-provider",
      DEAD,
      "--ip6-provider",
      DEAD,
      "--no-whoami",
      "--dns-resolver",
      `127.0.0.1:${dns.port}`,
    ];
    const r = await run([...args, "--timeout", "300ms", "--spool-dir", spoolDir(), "--once"], {
      SENTINEL_TOKEN: TOKEN,
    });
    expect(r.code).toBe(0);
    const report = rx.reports[0]?.report as ReportV1;
    expect(report.ipv4).toMatchObject({ ip: null, answers: [{ provider: DEAD, ip: null }] });
    expect(report.ipv4.answers[0]?.error).toBeString();
    expect(report.dns?.[0]?.error).toContain("ETIMEOUT");
    expect(report.errors?.map((e) => e.probe)).toEqual([
      "ipv4",
      "ipv6",
      "dns whoami.akamai.net A",
      "dns o-o.myaddr.l.google.com TXT",
    ]);
  });

  test("ends with one line saying what the server concluded", async () => {
    rx.verdict = {
      status: "yellow",
      reasons: ["No resolver was observed, so a DNS leak cannot be ruled out.", "Providers disagree."],
    };
    const r = await run(clientArgs("--once"), { SENTINEL_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([
      "report accepted; the server says YELLOW: No resolver was observed, so a DNS leak cannot be ruled out. Providers disagree.",
    ]);
  });

  test("an older server that does not say what it concluded still counts as accepted", async () => {
    rx.verdict = null;
    const r = await run(clientArgs("--once"), { SENTINEL_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("report accepted (an older server: it does not say what it concluded)");
  });

  test("exit 1 when the server refuses, with one last line saying why; the report stays spooled", async () => {
    rx.failWith = 503;
    const r = await run(clientArgs("--once"), { SENTINEL_TOKEN: TOKEN });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n").at(-1)).toBe(
      "sentinel: report not accepted: HTTP 503 unavailable: the fake server was told to fail; it stays in the spool for the next run",
    );
    expect(spooled()).toHaveLength(1);
  });

  test("exit 1 when the server rejects the report for good (not accepted, not spooled)", async () => {
    rx.failWith = 400;
    const r = await run(clientArgs("--once"), { SENTINEL_TOKEN: TOKEN });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("report not accepted: the server rejected it for good (HTTP 400");
    expect(spooled()).toEqual([]);
  });

  test("an unreachable server is one clean line", async () => {
    const token = encodeToken({ server: DEAD, clientId: CLIENT_ID, secret: SECRET });
    const r = await run(clientArgs("--once", "--log-level", "info"), { SENTINEL_TOKEN: token });
    expect(r.code).toBe(1);
    const about = r.stderr
      .trim()
      .split("\n")
      .filter((l) => l.includes(DEAD));
    expect(about).toEqual([
      `sentinel: report not accepted: ${DEAD} unreachable (connection refused); it stays in the spool for the next run`,
    ]);
    expect(r.stderr).not.toContain("Unable to connect");
  });

  test("exit 1 when the server is unreachable; the token's URL is used when --server is absent", async () => {
    const token = encodeToken({ server: DEAD, clientId: CLIENT_ID, secret: SECRET });
    const file = join(tmp, "token");
    writeFileSync(file, `${token}\n`);
    const r = await run(clientArgs("--once", "--token-file", file, "--no-whoami"));
    expect(r.code).toBe(1);
    expect(rx.attempts).toHaveLength(0);
    expect(spooled()).toHaveLength(1);
  });
});

describe("sentinel client (running)", () => {
  test("spools while the server is down (bounded, with a warning), then replays in order", async () => {
    rx.failWith = 503;
    const c = spawn(clientArgs("--interval", "1s", "--spool-max", "2", "--log-format", "json"), {
      SENTINEL_TOKEN: TOKEN,
    });
    try {
      await waitFor(() => c.out.stderr.includes("spool full"), 8000, "the spool-full warning");
      expect(spooled().length).toBeLessThanOrEqual(2);
      const recoveredAt = Date.now();
      rx.failWith = null;
      await waitFor(() => rx.reports.length >= 2, 10_000, "the replay");
      const [first, second] = rx.reports;
      // the two oldest surviving reports, observed during the outage, in order, re-signed now
      expect(Date.parse(first?.report.observed_at ?? "")).toBeLessThan(recoveredAt);
      expect(Date.parse(first?.report.observed_at ?? "")).toBeLessThan(
        Date.parse(second?.report.observed_at ?? ""),
      );
      expect((first?.signedAt ?? 0) * 1000).toBeGreaterThanOrEqual(Math.floor(recoveredAt / 1000) * 1000);
      // spooled reports say they are replays, so the server does not alert on stale news
      expect(first?.report.replayed).toBe(true);
      const start = Date.now();
      c.proc.kill("SIGTERM");
      expect(await c.proc.exited).toBe(0);
      expect(Date.now() - start).toBeLessThan(2000);
    } finally {
      c.proc.kill("SIGKILL");
    }
    const lines = c.out.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(
      lines.some((l) => l.level === "warn" && /spool full \(2\): dropped 1 oldest report/.test(l.msg)),
    ).toBe(true);
  }, 25_000);

  test("SIGTERM exits 0 within 2 s keeping the spool; the next run replays it with the original observed_at", async () => {
    rx.failWith = 503;
    const c = spawn(clientArgs("--interval", "1s"), { SENTINEL_TOKEN: TOKEN });
    await waitFor(() => spooled().length >= 2, 8000, "two spooled reports");
    const kept = spooled().map(
      (n) => JSON.parse(readFileSync(join(spoolDir(), CLIENT_ID, n), "utf8")) as ReportV1,
    );
    const start = Date.now();
    c.proc.kill("SIGTERM");
    expect(await c.proc.exited).toBe(0);
    expect(Date.now() - start).toBeLessThan(2000);
    const left = spooled();
    expect(left.length).toBeGreaterThanOrEqual(kept.length);

    rx.failWith = null;
    const r = await run(clientArgs("--once"), { SENTINEL_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(rx.reports).toHaveLength(left.length + 1);
    expect(rx.reports.slice(0, kept.length).map((x) => x.report.observed_at)).toEqual(
      kept.map((k) => k.observed_at),
    );
    expect(rx.reports.slice(0, left.length).every((x) => x.report.replayed === true)).toBe(true);
    expect(rx.reports.at(-1)?.report.replayed).toBeUndefined();
    expect(spooled()).toEqual([]);
  }, 20_000);

  test("SIGTERM lets the upload in flight finish", async () => {
    rx.delayMs = 800;
    const c = spawn(clientArgs("--interval", "1m"), { SENTINEL_TOKEN: TOKEN });
    await waitFor(() => c.out.stderr.includes("reporting to"), 5000, "start");
    await waitFor(() => rx.attempts.length === 0 && spooled().length === 1, 5000, "an upload in flight");
    const start = Date.now();
    c.proc.kill("SIGTERM");
    expect(await c.proc.exited).toBe(0);
    expect(Date.now() - start).toBeLessThan(2000);
    expect(rx.reports).toHaveLength(1);
    expect(spooled()).toEqual([]);
  }, 15_000);

  test("the server's next_report_in_s overrides --interval", async () => {
    rx.nextReportInS = 1; // the server's next_report_in_s overrides --interval
    const c = spawn(clientArgs("--interval", "1h"), { SENTINEL_TOKEN: TOKEN });
    try {
      await waitFor(() => rx.reports.length >= 2, 5000, "a second report after the server's 1 s");
      expect(rx.reports[1]?.report.interval_s).toBe(1);
    } finally {
      c.proc.kill("SIGTERM");
      await c.proc.exited;
    }
  }, 10_000);
});

describe("sentinel client --on-red / --on-green", () => {
  test("run on the server's verdict, once per change, with the verdict in the environment and their output in the log", async () => {
    rx.nextReportInS = 1;
    rx.verdict = { status: "red", reasons: ["Traffic bypasses the VPN: the IPv4 exit is home."] };
    const runs = join(tmp, "runs");
    const record = (name: string) =>
      `printf '%s %s %s %s %s\\n' ${name} "$SENTINEL_STATUS" "$SENTINEL_CLIENT" "$SENTINEL_REASONS" "\${SENTINEL_TOKEN:-no token}" >> ${runs}; echo ${name} repaired`;
    const c = spawn(clientArgs("--on-red", record("red"), "--on-green", record("green")), {
      SENTINEL_TOKEN: TOKEN,
    });
    const lines = () => {
      try {
        return readFileSync(runs, "utf8").trim().split("\n");
      } catch {
        return [];
      }
    };
    try {
      await waitFor(() => lines().length === 1, 8000, "the on-red hook");
      await waitFor(() => rx.reports.length >= 3, 8000, "two more red reports");
      expect(lines().length).toBe(1); // still red: not run again
      rx.verdict = { status: "green", reasons: ["Protected. Exit 198.51.100.7."] };
      await waitFor(() => lines().length === 2, 8000, "the on-green hook");
    } finally {
      c.proc.kill("SIGTERM");
      await c.proc.exited;
    }
    const out = await c.done();
    expect(lines()).toEqual([
      `red red ${CLIENT_ID} ["Traffic bypasses the VPN: the IPv4 exit is home."] no token`,
      `green green ${CLIENT_ID} ["Protected. Exit 198.51.100.7."] no token`,
    ]);
    const log = out.stdout + out.stderr;
    expect(log).toContain("on-red hook: red repaired");
    expect(log).toContain("on-green hook: green repaired");
    expect(log).not.toContain(SECRET);
  }, 30_000);

  test("with --once they are refused: they act on changes", async () => {
    const r = await run(clientArgs("--once", "--on-red", "true"), { SENTINEL_TOKEN: TOKEN });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--on-red/--on-green act on changes of the verdict");
    expect(rx.attempts).toHaveLength(0);
  });
});

describe("sentinel check", () => {
  test("--json prints the probe results, exit 0", async () => {
    const r = await run(["check", ...probeArgs(), "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ReportV1;
    expect(out.ipv4.ip).toBe(EXIT);
    expect(out.ipv6?.ip).toBe("2001:db8::7");
    expect(out.dns?.[0]?.answers).toEqual(["127.0.0.1"]);
    expect(rx.attempts).toHaveLength(0);
  });

  test("an unreachable --server is one clean line, and its whoami is left out", async () => {
    const r = await run(["check", ...probeArgs(), "--server", DEAD]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe(
      `sentinel: ${DEAD} unreachable (connection refused); its /api/v1/whoami is left out`,
    );
    expect(r.stdout).not.toContain(DEAD);
  });

  test("the table names every provider and resolver; exit 1 without an agreed IPv4", async () => {
    const ok = await run(["check", ...probeArgs()]);
    expect(ok.code).toBe(0);
    for (const s of [
      plain.url,
      json.url,
      limited.url,
      "HTTP 429",
      "whoami.akamai.net A",
      `via 127.0.0.1:${dns.port}`,
    ])
      expect(ok.stdout).toContain(s);
    const bad = await run([
      "check",
      "--ip4-provider",
      DEAD,
      "--no-ipv6",
      "--dns-probe",
      "x.example:A",
      "--dns-resolver",
      `127.0.0.1:${dns.port}`,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("UNKNOWN");
  });
});

describe("options and secrets", () => {
  const invalid: [string[], string][] = [
    [["--interval", "soon"], "--interval"],
    [["--spool-max", "0"], "--spool-max"],
    [["--dns-probe", "example.com:MX"], "--dns-probe"],
    [["--dns-resolver", "dns.example"], "--dns-resolver"],
    [["--ip4-provider", "ftp://x"], "--ip4-provider"],
    [["--server", "not a url"], "--server"],
  ];
  for (const [args, option] of invalid) {
    test(`invalid ${option}: one line naming it, exit 2`, async () => {
      const r = await run(["client", ...args, "--once"], { SENTINEL_TOKEN: TOKEN });
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(option);
    });
  }

  test("a missing or damaged token: exit 2, without echoing it", async () => {
    const missing = await run(["client", "--once"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--token is required");
    const damaged = `${TOKEN.slice(0, 20)}!!${SECRET}`;
    const r = await run(["client", "--once", "--token", damaged]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--token");
    expect(r.stderr).not.toContain(SECRET);
    expect(r.stderr).not.toContain(damaged);
  });

  test("the token and secret never appear in --help, logs or errors", async () => {
    const outputs = [
      await run(["client", "--help"], { SENTINEL_TOKEN: TOKEN }),
      await run(clientArgs("--once", "--token", TOKEN)),
      await run(clientArgs("--once", "--log-format", "json"), { SENTINEL_TOKEN: TOKEN }),
    ];
    rx.failWith = 401;
    outputs.push(await run(clientArgs("--once"), { SENTINEL_TOKEN: TOKEN }));
    expect(outputs[0]?.stdout + (outputs[0]?.stderr ?? "")).toContain("SENTINEL_TOKEN");
    expect(outputs[3]?.stderr).toContain("check the token");
    for (const o of outputs) {
      for (const text of [o.stdout, o.stderr]) {
        expect(text).not.toContain(TOKEN);
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(TOKEN.slice(4, 40));
      }
    }
  });

  test("the client and check never load the server stack (Elysia, JSX, grammy)", async () => {
    const build = await Bun.build({
      entrypoints: [join(ROOT, "src/cli/client.ts"), join(ROOT, "src/cli/check.ts")],
      target: "bun",
      metafile: true,
    });
    expect(build.success).toBe(true);
    const inputs = Object.keys(build.metafile?.inputs ?? {});
    expect(inputs.some((i) => i.includes("src/agent/agent.ts"))).toBe(true);
    expect(inputs.filter((i) => /elysia|kitajs|grammy|src\/server\//.test(i))).toEqual([]);
  });
});
