/**
 * `bun bench/postgres.ts`: the PostgreSQL mode's numbers for docs/benchmarks.md (issue 12).
 *
 *   bun bench/postgres.ts [--quick] [--only ingest,scale] [--database postgres://…] [--postgres-defaults]
 *                         [--profile DIR] [--loadgen socket|fetch]
 *
 * ingest: signed reports at the maximum rate (64 in flight, 1,000 clients, 20 s, median of 3
 *   runs) on SQLite, on PostgreSQL with one replica, and with two (32 in flight each).
 * scale: the goal of issue 12: 100,000 clients reporting every 30 s (3,333 reports/s) across two
 *   replicas; report latency, sweeper lag, offline detection of 200 clients that fall silent
 *   (deadline interval + grace), and the database's growth. The warm-up (every client's first
 *   report) takes longer than a deadline at 100,000, so the clients it reached first are offline
 *   when it ends: the first paced reports bring them back (full judgments, events) while the
 *   sweeper flips the others. That burst is `--settle-s` (60) of paced load, reported apart;
 *   the steady state is measured after it.
 *
 * PostgreSQL is a cluster of its own (.ci/postgres.sh, fsync on: a 202 must be on disk) with the
 * settings docs/operations.md recommends for large fleets (--postgres-defaults: without them),
 * unless --database names one (a role that may CREATE DATABASE). Needs root for the former.
 * Every load generator is its own process (bench/loadgen.ts), sending on keep-alive sockets
 * (--loadgen fetch: with fetch(), at several times the load generator's CPU, which this 2-core
 * machine takes from the servers); everything stays on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { createKeyring, parseServerKey } from "../src/server/auth/keyring.ts";
import { openStore } from "../src/server/store/index.ts";
import {
  type Credentials,
  cpuSecondsOf,
  enrollMany,
  type LoadResult,
  loadAverage,
  percentile,
  REPO,
  startSentinelServer,
  stopProcess,
} from "./lib.ts";

const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const ONLY = flag("--only") ? new Set((flag("--only") as string).split(",")) : null;
const want = (s: string) => !ONLY || ONLY.has(s);

const INGEST_S = QUICK ? 5 : 20;
const ROUNDS = QUICK ? 1 : 3;
const SCALE_CLIENTS = Number(flag("--scale-clients") ?? (QUICK ? 10_000 : 100_000));
const SCALE_S = QUICK ? 60 : 180;
/** paced load between the warm-up and the measurement, not measured (a multiple of 30 s) */
const SETTLE_S = Number(flag("--settle-s") ?? (QUICK ? 0 : 60));
const SILENT = 200;
const GRACE_S = 15;
/** connections per replica (--database-pool-size) */
const POOL = Number(flag("--pool") ?? 10);
const TRANSPORT = flag("--loadgen") === "fetch" ? "fetch" : "socket";
const TRANSPORT_SAID = `load generators on ${TRANSPORT === "socket" ? "sockets" : "fetch"}`;
/** --profile DIR: every setup's first replica runs from source under `bun --cpu-prof-md` into DIR */
const PROFILE_DIR = flag("--profile");
/** docs/operations.md, "Settings for large fleets": applied to the cluster the benchmark starts */
const FLEET_SETTINGS: [string, string][] = args.includes("--postgres-defaults")
  ? []
  : [
      ["wal_compression", "lz4"],
      ["max_wal_size", "4GB"],
    ];
const work = mkdtempSync(join(tmpdir(), "sentinel-bench-pg-"));

interface Row {
  bench: string;
  metric: string;
  value: string;
  goal?: string;
}
const rows: Row[] = [];
const add = (bench: string, metric: string, value: string, goal = "") => {
  rows.push({ bench, metric, value, goal });
  console.error(`  ${bench} · ${metric}: ${value}${goal ? ` (goal ${goal})` : ""}`);
};
const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a cluster of our own, one database per scenario

let clusterDir: string | null = null;

async function postgresServer(): Promise<string> {
  const given = flag("--database");
  if (given) return given;
  // not inside `work` (0700, root's): the postgres user must reach the cluster's directory
  clusterDir = `${tmpdir()}/sentinel-pg-bench-${process.pid}`;
  const p = Bun.spawn(["bash", join(REPO, ".ci", "postgres.sh"), "start", clusterDir], {
    env: { ...process.env, SENTINEL_PG_DURABLE: "1" },
    stdout: "pipe",
    stderr: "inherit",
  });
  const url = (await new Response(p.stdout).text()).trim();
  if ((await p.exited) !== 0)
    throw new Error(".ci/postgres.sh start failed (root and the postgresql package?)");
  const admin = new SQL(url, { max: 1 });
  for (const [name, value] of FLEET_SETTINGS) await admin.unsafe(`ALTER SYSTEM SET ${name} = '${value}'`);
  await admin`SELECT pg_reload_conf()`;
  // the reload reaches this backend a moment later: show the settings once they are in force
  const show = async (name: string) => String((await admin.unsafe(`SHOW ${name}`))[0][name]);
  let current: string[] = [];
  for (let tries = 0; tries < 50; tries++) {
    current = await Promise.all(FLEET_SETTINGS.map(([name]) => show(name)));
    if (current.every((v, i) => v === FLEET_SETTINGS[i]?.[1])) break;
    await Bun.sleep(100);
  }
  const shown = FLEET_SETTINGS.map(([name], i) => `${name}=${current[i]}`);
  await admin.close();
  console.error(`PostgreSQL: ${shown.length ? shown.join(", ") : "default settings"} (fsync on)`);
  return url;
}

async function freshDatabase(server: string, name: string): Promise<string> {
  const admin = new SQL(server, { max: 1 });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** CPU seconds of PostgreSQL (the postmaster and every backend), when the cluster is ours. */
function postgresCpuSeconds(): number {
  if (!clusterDir) return Number.NaN;
  const postmaster = Number(readFileSync(join(clusterDir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  let total = cpuSecondsOf(postmaster);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) total += cpuSecondsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// clients, servers, load

const KEY = Buffer.alloc(32, 42).toString("base64");

function keyFile(): string {
  const file = join(work, "server.key");
  writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
  return file;
}

async function enroll(
  where: { dataDir: string; database?: string },
  n: number,
  prefix = "bench",
): Promise<Credentials[]> {
  mkdirSync(where.dataDir, { recursive: true });
  writeFileSync(join(where.dataDir, "server.key"), `${KEY}\n`, { mode: 0o600 });
  const store = await openStore({ ...where, postgres: { poolSize: 2 } });
  const creds = await enrollMany(store, createKeyring([parseServerKey(KEY, "bench key")]), n, prefix);
  await store.close();
  return creds;
}

let credentialFile = 0;

/** One bench/loadgen.ts process; resolves with its results, its latencies' percentiles and its CPU time. */
async function loadgen(
  url: string,
  creds: Credentials[],
  mode: "max" | "paced" | "once",
  durationS: number,
  concurrency: number,
): Promise<LoadResult & { cpuS: number }> {
  const credentialsFile = join(work, `creds-${credentialFile++}.json`);
  writeFileSync(credentialsFile, JSON.stringify(creds));
  const configFile = join(work, `loadgen-${credentialFile}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      url,
      credentialsFile,
      mode,
      durationS,
      concurrency,
      intervalS: 30,
      transport: TRANSPORT,
    }),
  );
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "loadgen.ts"), configFile], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(child.stdout).text();
  await child.exited;
  const r = JSON.parse(out.trim().split("\n").at(-1) as string) as LoadResult;
  if (r.errors) console.error(`  loadgen: ${r.errors} errors, first: ${r.firstError}`);
  return { ...r, cpuS: Number(child.resourceUsage()?.cpuTime.total ?? 0) / 1e6 };
}

/** Two load generators' results as one: rates add up, percentiles are the worse of the two. */
const combine = (rs: LoadResult[]): LoadResult => ({
  requests: rs.reduce((a, r) => a + r.requests, 0),
  errors: rs.reduce((a, r) => a + r.errors, 0),
  firstError: rs.find((r) => r.firstError)?.firstError ?? "",
  statuses: rs.reduce<Record<string, number>>((a, r) => {
    for (const [k, v] of Object.entries(r.statuses)) a[k] = (a[k] ?? 0) + v;
    return a;
  }, {}),
  elapsedS: Math.max(...rs.map((r) => r.elapsedS)),
  perS: rs.reduce((a, r) => a + r.perS, 0),
  p50: Math.max(...rs.map((r) => r.p50)),
  p95: Math.max(...rs.map((r) => r.p95)),
  p99: Math.max(...rs.map((r) => r.p99)),
});

const statusText = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([k, v]) => `${v} × ${k}`)
    .join(", ");

type Server = Awaited<ReturnType<typeof startSentinelServer>>;

async function replicas(n: number, database: string, extra: string[] = []): Promise<Server[]> {
  const out: Server[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(work, `replica-${database.split("/").at(-1)}-${i}`);
    mkdirSync(dir, { recursive: true });
    out.push(
      await startSentinelServer(dir, {
        extraArgs: [
          ...["--database", database, "--server-key-file", keyFile()],
          ...["--database-pool-size", String(POOL)],
          ...extra,
        ],
        ...(PROFILE_DIR && i === 0 ? { cpuProfDir: PROFILE_DIR } : {}),
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ingest at the maximum rate

async function benchIngest(server: string) {
  console.error(
    `\n[ingest] ${ROUNDS} × ${INGEST_S} s per setup, 64 requests in flight, load ${loadAverage()}, ${TRANSPORT_SAID}`,
  );
  const sqliteDir = join(work, "ingest-sqlite", "data");
  const sqliteCreds = await enroll({ dataDir: sqliteDir }, 1000);
  const pgDatabase = await freshDatabase(server, "sentinel_pg_bench_ingest");
  const pgCreds = await enroll({ dataDir: join(work, "ingest-pg"), database: pgDatabase }, 1000);

  const setups: { label: string; start: () => Promise<Server[]> }[] = [
    { label: "ingest: SQLite, 1 server", start: async () => [await startSentinelServer(sqliteDir)] },
    { label: "ingest: PostgreSQL, 1 replica", start: () => replicas(1, pgDatabase) },
    { label: "ingest: PostgreSQL, 2 replicas", start: () => replicas(2, pgDatabase) },
  ];
  for (const setup of setups) {
    const servers = await setup.start();
    const creds = setup.label.includes("SQLite") ? sqliteCreds : pgCreds;
    // every client's first report first (judged in full), then the unchanged reports the rate is about
    await loadgen(servers[0]?.url as string, creds, "once", 0, 64);
    const runs: { r: LoadResult; cpu: number; pgCpu: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const cpu0 = servers.reduce((a, s) => a + cpuSecondsOf(s.proc.pid), 0);
      const pg0 = postgresCpuSeconds();
      const half = Math.floor(creds.length / servers.length);
      const r = combine(
        await Promise.all(
          servers.map((s, i) =>
            loadgen(s.url, creds.slice(i * half, (i + 1) * half), "max", INGEST_S, 64 / servers.length),
          ),
        ),
      );
      const cpu = servers.reduce((a, s) => a + cpuSecondsOf(s.proc.pid), 0) - cpu0;
      runs.push({ r, cpu: cpu / r.elapsedS, pgCpu: (postgresCpuSeconds() - pg0) / r.elapsedS });
    }
    for (const s of servers) await stopProcess(s.proc);
    runs.sort((a, b) => a.r.perS - b.r.perS);
    const m = runs[Math.floor(runs.length / 2)] as (typeof runs)[number];
    add(
      setup.label,
      "reports/s (median)",
      `${m.r.perS.toFixed(0)} (runs: ${runs.map((x) => x.r.perS.toFixed(0)).join(", ")})`,
    );
    add(setup.label, "p50 / p99", `${ms(m.r.p50)} / ${ms(m.r.p99)}`);
    add(
      setup.label,
      "CPU: servers / PostgreSQL",
      `${(m.cpu * 100).toFixed(0)} % / ${setup.label.includes("SQLite") || Number.isNaN(m.pgCpu) ? "–" : `${(m.pgCpu * 100).toFixed(0)} %`}`,
    );
    add(setup.label, "answers", statusText(m.r.statuses));
  }
}

// ---------------------------------------------------------------------------------------------
// the scale goal: 100,000 clients every 30 s across two replicas

async function benchScale(server: string) {
  console.error(
    `\n[scale] ${SCALE_CLIENTS.toLocaleString("en")} clients every 30 s on 2 replicas for ${SCALE_S} s, load ${loadAverage()}, ${TRANSPORT_SAID}`,
  );
  const database = await freshDatabase(server, "sentinel_pg_bench_scale");
  const t0 = performance.now();
  const creds = await enroll({ dataDir: join(work, "scale"), database }, SCALE_CLIENTS);
  const silent = await enroll({ dataDir: join(work, "scale"), database }, SILENT, "silent");
  add(
    "scale",
    "enrolment",
    `${SCALE_CLIENTS.toLocaleString("en")} clients in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  const servers = await replicas(2, database, ["--grace", `${GRACE_S}s`]);
  const [a, b] = servers as [Server, Server];
  const half = Math.floor(creds.length / 2);
  const halves = [creds.slice(0, half), creds.slice(half)];

  // warm-up: every client's first report (judged in full, a first_seen event each), not measured
  const w0 = performance.now();
  await Promise.all([
    loadgen(a.url, halves[0] ?? [], "once", 0, 32),
    loadgen(b.url, halves[1] ?? [], "once", 0, 32),
  ]);
  add(
    "scale",
    "first reports (warm-up)",
    `${((creds.length / (performance.now() - w0)) * 1000).toFixed(0)} reports/s`,
  );
  if (SETTLE_S > 0) {
    const settle = combine(
      await Promise.all([
        loadgen(a.url, halves[0] ?? [], "paced", SETTLE_S, 512),
        loadgen(b.url, halves[1] ?? [], "paced", SETTLE_S, 512),
      ]),
    );
    add(
      "scale",
      `settling: the first ${SETTLE_S} s of paced load (not measured below)`,
      `${((settle.statuses["202"] ?? 0) / settle.elapsedS).toFixed(0)} acknowledged/s, p50 / p99 ${ms(settle.p50)} / ${ms(settle.p99)}; ${statusText(settle.statuses)}`,
    );
  }
  // the silent clients report once, then never again: offline at last report + 30 s + grace
  await loadgen(a.url, silent, "once", 0, 16);

  const db = new SQL(database, { max: 1 });
  const tableSizes = async (): Promise<Map<string, number>> =>
    new Map(
      (await db`SELECT relname, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables`).map(
        (t: { relname: string; bytes: string }): [string, number] => [t.relname, Number(t.bytes)],
      ),
    );
  const tables0 = await tableSizes();
  const size0 = Number((await db`SELECT pg_database_size(current_database()) AS n`)[0].n);
  let maxLag = 0;
  const lagSampler = setInterval(async () => {
    // the time as a parameter: with clock_timestamp() in the query (volatile) PostgreSQL cannot
    // use the index on next_check_at, and the sampler's scan of every client took 130-200 ms of
    // PostgreSQL's CPU each second, a load of its own beside the one measured
    const now = Date.now();
    const [r] = await db`SELECT coalesce(max(${now}::bigint - next_check_at), 0) AS lag
      FROM clients WHERE next_check_at <= ${now}::bigint`;
    maxLag = Math.max(maxLag, Number(r?.lag ?? 0));
  }, 1000);
  const cpu0 = servers.reduce((s, x) => s + cpuSecondsOf(x.proc.pid), 0);
  const pg0 = postgresCpuSeconds();
  const measured = await Promise.all([
    loadgen(a.url, halves[0] ?? [], "paced", SCALE_S, 512),
    loadgen(b.url, halves[1] ?? [], "paced", SCALE_S, 512),
  ]);
  const r = combine(measured);
  const loadgenCpu = measured.reduce((s, x) => s + x.cpuS, 0) / r.elapsedS;
  clearInterval(lagSampler);
  const cpu = (servers.reduce((s, x) => s + cpuSecondsOf(x.proc.pid), 0) - cpu0) / r.elapsedS;
  const pgCpu = (postgresCpuSeconds() - pg0) / r.elapsedS;
  const size1 = Number((await db`SELECT pg_database_size(current_database()) AS n`)[0].n);
  const target = SCALE_CLIENTS / 30;
  add(
    "scale",
    "reports/s: sent / acknowledged (202)",
    `${r.perS.toFixed(0)} / ${((r.statuses["202"] ?? 0) / r.elapsedS).toFixed(0)}`,
    `${target.toFixed(0)} / ${target.toFixed(0)}`,
  );
  add(
    "scale",
    "report p50 / p95 / p99 (every answer)",
    `${ms(r.p50)} / ${ms(r.p95)} / ${ms(r.p99)}`,
    "p99 < 100 ms",
  );
  add("scale", "answers", statusText(r.statuses));
  add(
    "scale",
    "CPU: 2 replicas / PostgreSQL / 2 load generators",
    `${(cpu * 100).toFixed(0)} % / ${Number.isNaN(pgCpu) ? "–" : `${(pgCpu * 100).toFixed(0)} %`} / ${(loadgenCpu * 100).toFixed(0)} % (of 200 %)`,
  );
  add("scale", "sweeper lag (max, sampled each second)", `${(maxLag / 1000).toFixed(1)} s`);

  // offline detection of the silent clients: event time minus their deadline
  const deadlineMs = (30 + GRACE_S) * 1000;
  const detected =
    await db`SELECT c.last_report_at AS last, e.at AS at FROM events e JOIN clients c ON c.id = e.client_id
    WHERE e.kind = 'client.offline' AND c.name LIKE 'silent-%'`;
  const late = detected
    .map((d: { last: string; at: string }) => Number(d.at) - Number(d.last) - deadlineMs)
    .sort((x: number, y: number) => x - y);
  add(
    "scale",
    "silent clients detected offline",
    `${detected.length} of ${SILENT}; after their deadline by p50 ${((percentile(late, 50) || 0) / 1000).toFixed(1)} s, max ${((late.at(-1) ?? 0) / 1000).toFixed(1)} s`,
    "every one within deadline + 15 s",
  );
  const perDay = ((size1 - size0) / r.elapsedS) * 86_400;
  const tables1 = await tableSizes();
  const grew = [...tables1]
    .map(([name, bytes]) => [name, bytes - (tables0.get(name) ?? 0)] as const)
    .filter(([, d]) => d > 0)
    .sort((x, y) => y[1] - x[1])
    .slice(0, 6)
    .map(([name, d]) => `${name} +${(d / 2 ** 20).toFixed(1)}`)
    .join(", ");
  add(
    "scale",
    "database growth",
    `${((size1 - size0) / 2 ** 20).toFixed(0)} MiB in ${r.elapsedS.toFixed(0)} s (${grew} MiB; ${(perDay / 2 ** 30).toFixed(1)} GiB/day if that rate held); ${(size1 / 2 ** 20).toFixed(0)} MiB in all`,
  );
  await db.close();
  for (const s of servers) await stopProcess(s.proc);
}

// ---------------------------------------------------------------------------------------------

try {
  const server = await postgresServer();
  if (want("ingest")) await benchIngest(server);
  if (want("scale")) await benchScale(server);
} finally {
  if (clusterDir) Bun.spawnSync(["bash", join(REPO, ".ci", "postgres.sh"), "stop", clusterDir]);
  rmSync(work, { recursive: true, force: true });
}

console.log("| benchmark | metric | value | goal |\n| --- | --- | --- | --- |");
for (const r of rows) console.log(`| ${r.bench} | ${r.metric} | ${r.value} | ${r.goal ?? ""} |`);
