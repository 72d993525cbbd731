/**
 * The legacy keepalive path under wrk, next to a bare Bun.serve on the same machine:
 *
 *   bun bench/legacy-wrk.ts [--quick] [--clients N] [--seconds S] [--rounds R] [--profile]
 *
 * Every keepalive is unchanged (each client already reported the same thing once), which is
 * the steady state of a fleet of old Python clients: the case the unchanged-report shortcut is
 * for. wrk (Debian package `wrk`) drives both servers with the same request mix from a Lua
 * script: client ids round-robin over --clients names, one POST /api/v1/keepalive each. The
 * median of the rounds is printed (requests/s, p50, p99), with the ratio to the bare server.
 * Everything stays on 127.0.0.1; the server is `sentinel server` from source (or
 * SENTINEL_BENCH_BIN). --profile runs the server from source under `bun --cpu-prof-md` and
 * prints where the profile is (kept, unlike the rest of the work directory).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, loadAverage, median, REPO, startSentinelServer, stopProcess, waitHttp } from "./lib.ts";

const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
const PROFILE = args.includes("--profile");
const numberArg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) || fallback : fallback;
};
const CLIENTS = numberArg("--clients", 1000);
const SECONDS = numberArg("--seconds", QUICK ? 5 : 15);
const ROUNDS = numberArg("--rounds", QUICK ? 1 : 3);
const CONNECTIONS = 64;
const THREADS = 2;
const KEY = "bench-legacy-key-3f9a1c";
const work = mkdtempSync(join(tmpdir(), "sentinel-legacy-wrk-"));

/** A keepalive as the predecessor's Python client sends it (nested form), from a VPN exit. */
const keepaliveJson = (clientId: string) =>
  JSON.stringify({
    client_id: clientId,
    public_ip: "203.0.113.7",
    location: {
      country: "SE",
      city: "Stockholm",
      region: "AB",
      org: "Bench VPN",
      timezone: "Europe/Stockholm",
    },
    dns_test: { location: "ARN", colo: "ARN" },
    client_version: "1.2.0",
  });

/** Lua for wrk: the same keepalive body per client, client ids round-robin per thread. */
function wrkScript(clients: number): string {
  const [head, tail] = keepaliveJson("CLIENT_ID").split("CLIENT_ID");
  const lua = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string here
  return `
local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
local n = 0
local headers = { ["Content-Type"] = "application/json", ["X-API-Key"] = ${lua(KEY)} }
function request()
  n = n + 1
  local i = (offset + n) % ${clients}
  return wrk.format("POST", "/api/v1/keepalive", headers, ${lua(head as string)} .. "legacy-" .. i .. ${lua(tail as string)})
end
`;
}

interface Round {
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

const msOf = (text: string, label: string): number => {
  const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
};

async function runWrk(url: string, script: string): Promise<Round> {
  const proc = Bun.spawn(
    ["wrk", `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-s", script, url],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`wrk failed (${code}): ${err}`);
  const failures = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (failures)
    throw new Error(`wrk saw ${failures} non-2xx answers: the numbers would not be keepalives\n${out}`);
  if (/Socket errors/.test(out)) throw new Error(`wrk saw socket errors:\n${out}`);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    p50Ms: msOf(out, "50%"),
    p99Ms: msOf(out, "99%"),
  };
}

async function rounds(url: string, script: string): Promise<Round> {
  const all: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = await runWrk(url, script);
    console.error(
      `    round ${r + 1}: ${Math.round(round.rps)} req/s, p50 ${round.p50Ms} ms, p99 ${round.p99Ms} ms`,
    );
    all.push(round);
  }
  return {
    rps: median(all.map((x) => x.rps)),
    p50Ms: median(all.map((x) => x.p50Ms)),
    p99Ms: median(all.map((x) => x.p99Ms)),
  };
}

try {
  const script = join(work, "keepalive.lua");
  writeFileSync(script, wrkScript(CLIENTS));
  console.error(
    `legacy keepalive vs bare Bun.serve: wrk -t${THREADS} -c${CONNECTIONS}, ${SECONDS} s × ${ROUNDS} round(s), ${CLIENTS} clients, ${cpus().length} CPUs, load ${loadAverage()}`,
  );

  console.error("  bare Bun.serve (bench/bare.ts: reads the body, answers a constant)");
  const barePort = await freePort();
  const bare = Bun.spawn([process.execPath, join(REPO, "bench", "bare.ts"), String(barePort)], {
    stdout: "inherit",
    stderr: "inherit",
  });
  await waitHttp(`http://127.0.0.1:${barePort}/`);
  const bareResult = await rounds(`http://127.0.0.1:${barePort}`, script);
  await stopProcess(bare);

  console.error("  sentinel server, POST /api/v1/keepalive, every keepalive unchanged");
  const dataDir = join(work, "data");
  const cpuProfDir = PROFILE ? mkdtempSync(join(tmpdir(), "sentinel-legacy-profile-")) : undefined;
  const server = await startSentinelServer(dataDir, {
    extraArgs: ["--legacy-api-key", KEY],
    ...(cpuProfDir ? { cpuProfDir } : {}),
  });
  // first contact: every client is created and judged once, so the measured ones are unchanged
  for (let i = 0; i < CLIENTS; i++) {
    const res = await fetch(`${server.url}/api/v1/keepalive`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": KEY },
      body: keepaliveJson(`legacy-${i}`),
    });
    if (res.status !== 200) throw new Error(`warm-up keepalive refused: ${res.status} ${await res.text()}`);
  }
  const legacy = await rounds(server.url, script);
  await stopProcess(server.proc, 20_000);
  if (cpuProfDir) console.error(`  CPU profile of the server: ${cpuProfDir}`);

  const row = (name: string, r: Round) =>
    `| ${name} | ${Math.round(r.rps).toLocaleString("en")} | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${((r.rps / bareResult.rps) * 100).toFixed(0)} % |`;
  console.log(
    [
      `| wrk, 127.0.0.1, median of ${ROUNDS} × ${SECONDS} s | req/s | p50 | p99 | of bare |`,
      "| --- | --- | --- | --- | --- |",
      row("bare Bun.serve", bareResult),
      row(`POST /api/v1/keepalive (unchanged, ${CLIENTS} clients)`, legacy),
    ].join("\n"),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
