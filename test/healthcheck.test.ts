/**
 * `sentinel healthcheck` against real processes: a `sentinel server` found by its pid and
 * configured only through its own environment, a `sentinel client` with a relative spool dir
 * and its token in its environment (neither of which the healthcheck process is given), a fake
 * server that is not ready, and a fake /proc for the discovery the container image relies on.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findSentinelProcesses, parseCommandLine } from "../src/cli/healthcheck.ts";
import { encodeToken } from "../src/protocol/token.ts";
import { startFakeDns } from "./fakes/dns.ts";
import { startFakeEcho } from "./fakes/echo.ts";
import { startFakeReceiver } from "./fakes/receiver.ts";

const ROOT = join(import.meta.dir, "..");
const CLIENT_ID = "hc-client";
const SECRET = "hc-very-secret-value-1234";
const rx = startFakeReceiver({ clients: { [CLIENT_ID]: SECRET } });
const TOKEN = encodeToken({ server: rx.url, clientId: CLIENT_ID, secret: SECRET });
const echo = startFakeEcho({ answer: "caller" });
const dns = await startFakeDns();
afterAll(async () => {
  echo.stop();
  rx.stop();
  await dns.stop();
});

let tmp = "";
const children: ReturnType<typeof Bun.spawn>[] = [];
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "sentinel-healthcheck-"));
  rx.failWith = null;
  rx.nextReportInS = null;
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill("SIGTERM");
    await c.exited;
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** A long-running sentinel from source, in `cwd`, with only `env` (no SENTINEL_* from this shell). */
function start(args: string[], env: Record<string, string>, cwd = tmp) {
  const proc = Bun.spawn(["bun", join(ROOT, "src/main.ts"), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: tmp, ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  children.push(proc);
  let log = "";
  void (async () => {
    const dec = new TextDecoder();
    const reader = proc.stderr.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read())
      log += dec.decode(r.value, { stream: true });
  })();
  return { proc, log: () => log };
}

/** `sentinel healthcheck ARGS` with a bare environment. */
async function healthcheck(...args: string[]) {
  const proc = Bun.spawn(["bun", join(ROOT, "src/main.ts"), "healthcheck", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: tmpdir() },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

const freePort = () => {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
};

const waitFor = async <T>(what: string, ms: number, check: () => T | Promise<T>) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
};

describe("a server", () => {
  test("--pid: the listen address comes from the server's own environment; ready → 0, gone → 1", async () => {
    const port = freePort();
    const server = start(["server", "--data-dir", "data"], {
      SENTINEL_LISTEN: `127.0.0.1:${port}`,
      SENTINEL_HOME_LEARN: "false",
    });
    await waitFor("the server to listen", 20_000, () => server.log().includes("listening on"));
    const pid = server.proc.pid;
    const ok = await healthcheck("--pid", String(pid));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      new RegExp(
        `^server \\(pid ${pid}\\) healthy: ready \\(http://127\\.0\\.0\\.1:${port}/readyz, schema \\d+\\)\\n$`,
      ),
    );
    const json = await healthcheck("--pid", String(pid), "--json");
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ role: "server", pid, healthy: true, target: `http://127.0.0.1:${port}` }),
    ]);

    server.proc.kill("SIGTERM");
    await server.proc.exited;
    const gone = await healthcheck("--pid", String(pid));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`no process ${pid}`);
  }, 60_000);

  test("--url: not ready (503 with a reason) and unreachable are both exit 1 with the evidence", async () => {
    const notReady = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => Response.json({ status: "not_ready", reason: "database is read-only" }, { status: 503 }),
    });
    try {
      const r = await healthcheck("--url", notReady.url.href);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe(
        `server unhealthy: not ready (${notReady.url.href}readyz answered HTTP 503: database is read-only)\n`,
      );
    } finally {
      notReady.stop(true);
    }
    const port = freePort();
    const dead = await healthcheck("--url", `http://127.0.0.1:${port}`);
    expect(dead.code).toBe(1);
    expect(dead.stdout).toBe(
      `server unhealthy: unreachable (http://127.0.0.1:${port}/readyz: ECONNREFUSED)\n`,
    );
  });

  test("a server on a random port cannot be found from its options: the answer says so", async () => {
    const server = start(["server", "--data-dir", "data", "--listen", "127.0.0.1:0"], {
      SENTINEL_HOME_LEARN: "false",
    });
    await waitFor("the server to listen", 20_000, () => server.log().includes("listening on"));
    const r = await healthcheck("--pid", String(server.proc.pid));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("unhealthy: its options do not resolve: it listens on a random port");
  }, 60_000);
});

describe("a client", () => {
  const clientArgs = [
    "client",
    "--ip4-provider",
    echo.url,
    "--no-ipv6",
    "--dns-resolver",
    `127.0.0.1:${dns.port}`,
    "--timeout",
    "1s",
    "--spool-dir",
    "spool", // relative: resolved in the client's working directory, not the healthcheck's
  ];

  test("healthy while it delivers, unhealthy once its server refuses reports, healthy again after", async () => {
    const client = start([...clientArgs, "--interval", "1s"], { SENTINEL_TOKEN: TOKEN });
    const pid = client.proc.pid;
    const statusFile = join(tmp, "spool", `${CLIENT_ID}.status.json`);
    await waitFor("the first round", 20_000, () => rx.reports.length > 0);
    const ok = await waitFor("a healthy check", 10_000, async () => {
      const r = await healthcheck("--pid", String(pid));
      return r.code === 0 && r.stdout;
    });
    expect(ok).toMatch(
      new RegExp(
        `^client \\(pid ${pid}\\) healthy: last report delivered .+; last round .+ \\((start|timer)\\); 0 queued\\n$`,
      ),
    );
    const status = JSON.parse(readFileSync(statusFile, "utf8"));
    expect(status).toMatchObject({ v: 1, pid, interval_s: 1, delivered: true, send_error: null });

    rx.failWith = 503;
    const bad = await waitFor("an unhealthy check", 15_000, async () => {
      const r = await healthcheck("--pid", String(pid), "--health-max-age", "2s");
      return r.code === 1 && r.stdout;
    });
    expect(bad).toContain(`client (pid ${pid}) unhealthy: no report delivered for more than 2s;`);
    expect(bad).toContain("last upload error: HTTP 503 unavailable");
    // the same verdict from the file alone
    const byFile = await healthcheck("--status-file", statusFile, "--health-max-age", "2s");
    expect(byFile.code).toBe(1);
    expect(byFile.stdout).toStartWith("client unhealthy: no report delivered for more than 2s;");

    rx.failWith = null;
    await waitFor("a healthy check again", 20_000, async () => {
      const r = await healthcheck("--pid", String(pid), "--health-max-age", "2s");
      return r.code === 0;
    });
    expect(client.log()).not.toContain(SECRET);
  }, 60_000);

  test("--once leaves a status file; a client that never ran has none (unhealthy)", async () => {
    const never = await healthcheck("--status-file", join(tmp, "nothing.status.json"));
    expect(never.code).toBe(1);
    expect(never.stdout).toContain("no status file at");
    const once = start([...clientArgs, "--once"], { SENTINEL_TOKEN: TOKEN });
    expect(await once.proc.exited).toBe(0);
    const status = JSON.parse(readFileSync(join(tmp, "spool", `${CLIENT_ID}.status.json`), "utf8"));
    expect(status).toMatchObject({ reason: "once", delivered: true, queued: 0 });
  });
});

describe("finding the sentinel to check", () => {
  test("command lines: compiled and from source, server and client, nothing else", () => {
    expect(parseCommandLine(["sentinel", "server", "--listen", ":9"])).toEqual({
      role: "server",
      args: ["--listen", ":9"],
    });
    expect(parseCommandLine(["bun", "/app/src/main.ts", "client", "--once"])).toEqual({
      role: "client",
      args: ["--once"],
    });
    expect(parseCommandLine(["sentinel", "client", "doctor"])).toBeNull();
    expect(parseCommandLine(["sentinel", "healthcheck"])).toBeNull();
    expect(parseCommandLine(["sentinel", "--log-level", "server"])).toBeNull();
    expect(parseCommandLine(["sentinel"])).toBeNull();
  });

  test("/proc: processes of the same executable running server or client, in pid order", () => {
    const proc = join(tmp, "proc");
    const fakeProcess = (pid: string, exe: string, argv: string[]) => {
      mkdirSync(join(proc, pid), { recursive: true });
      symlinkSync(exe, join(proc, pid, "exe"));
      writeFileSync(join(proc, pid, "cmdline"), `${argv.join("\0")}\0`);
    };
    fakeProcess("self", "/usr/local/bin/sentinel", ["sentinel", "healthcheck"]);
    fakeProcess("12", "/usr/local/bin/sentinel", ["sentinel", "client", "--interval", "5s"]);
    fakeProcess("1", "/usr/local/bin/sentinel", ["sentinel", "server"]);
    fakeProcess("7", "/usr/bin/other", ["other", "server"]);
    fakeProcess("8", "/usr/local/bin/sentinel", ["sentinel", "backup", "x.db"]);
    mkdirSync(join(proc, "9")); // a process that went away meanwhile
    expect(findSentinelProcesses(proc)).toEqual([
      { pid: 1, role: "server", args: [] },
      { pid: 12, role: "client", args: ["--interval", "5s"] },
    ]);
  });
});
