/**
 * History benchmark: 10,000 clients × 90 days of realistic flips (most clients steady, some
 * moderate, a few flaky), written through the store as the monitor writes it, rolled up by day.
 * Then: the summary (function and GET /api/v1/summary) for 24h/7d/30d/90d, the overview with its
 * 24-hour strips, the analytics page and a flaky client's page. Goal: summary p95 < 200 ms.
 *
 *   bun bench/summary.ts [clients] [days]
 */
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { RollupJob } from "../src/server/reports/rollup.ts";
import { SUMMARY_PERIODS, summarise } from "../src/server/reports/summary.ts";
import { type HistoryRow, openStore } from "../src/server/store/index.ts";
import { quietLogger } from "../test/helpers/server.ts";
import { buildWebApp, signIn } from "../test/web-helpers.ts";
import { loadAverage, percentile } from "./lib.ts";

const CLIENTS = Number(Bun.argv[2] ?? 10_000);
const DAYS = Number(Bun.argv[3] ?? 90);
const DAY = 86_400_000;
const H = 3_600_000;
const GOAL_MS = 200;

const w = await buildWebApp();
const now = Date.now();

/** Deterministic, so two runs measure the same data. */
let seed = 42;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

type State = Pick<HistoryRow, "status" | "liveness" | "causes">;
const GREEN: State = { status: "green", liveness: "online", causes: "" };
const PROBLEMS: [weight: number, state: State, meanMinutes: number][] = [
  [40, { status: "red", liveness: "offline", causes: "offline" }, 90], // power cut, reboot, night
  [20, { status: "yellow", liveness: "late", causes: "late" }, 3],
  [15, { status: "red", liveness: "online", causes: "dns:leak" }, 20],
  [8, { status: "red", liveness: "online", causes: "bypass:leak,dns:leak" }, 10], // tunnel down, kill switch off
  [7, { status: "yellow", liveness: "online", causes: "dns:suspect" }, 60],
  [5, { status: "red", liveness: "online", causes: "ipv6:leak" }, 30],
  [5, { status: "yellow", liveness: "online", causes: "exit:violated" }, 120],
];
const TOTAL_WEIGHT = PROBLEMS.reduce((n, [w]) => n + w, 0);
function problem(): [State, number] {
  let r = rnd() * TOTAL_WEIGHT;
  for (const [weight, state, minutes] of PROBLEMS) {
    r -= weight;
    if (r <= 0) return [state, minutes];
  }
  return [PROBLEMS[0]?.[1] as State, 60];
}
const EXITS = ["198.51.100.7", "198.51.100.8", "198.51.100.140", "198.51.100.141"];

console.log(`seeding ${CLIENTS} clients × ${DAYS} days of history…`);
const t0 = performance.now();
let rows = 0;
const BATCH = 200;
for (let start = 0; start < CLIENTS; start += BATCH) {
  await w.store.transaction(async (tx) => {
    for (let c = start; c < Math.min(CLIENTS, start + BATCH); c++) {
      const id = `c_bench${String(c).padStart(6, "0")}`;
      await tx.clients.create({
        id,
        name: `client-${String(c).padStart(5, "0")}`,
        createdAt: now - DAYS * DAY,
        secretEnc: "x",
      });
      // 70 % steady (a problem every 3 days), 25 % moderate (3 a day), 5 % flaky (10 a day)
      const kind = rnd();
      const perDay = kind < 0.7 ? 1 / 3 : kind < 0.95 ? 3 : 10;
      let t = now - DAYS * DAY + Math.floor(rnd() * 12 * H);
      let exit = EXITS[c % EXITS.length] as string;
      const write = async (at: number, s: State) => {
        if (rnd() < 0.02) exit = EXITS[Math.floor(rnd() * EXITS.length)] as string; // the provider moves it
        if (await tx.history.record(id, { at, ...s, exitIpv4: exit, exitIpv6: null, resolvers: "192.0.2.1" }))
          rows++;
      };
      await write(t, GREEN);
      for (;;) {
        t += Math.floor((-Math.log(1 - rnd()) * DAY) / perDay);
        if (t >= now) break;
        const [state, minutes] = problem();
        await write(t, state);
        t += Math.max(30_000, Math.floor(-Math.log(1 - rnd()) * minutes * 60_000));
        if (t >= now) break;
        await write(t, GREEN);
      }
    }
  });
}
console.log(
  `  ${rows.toLocaleString("en")} history rows (${(rows / CLIENTS).toFixed(0)} per client) in ${Math.round(performance.now() - t0)} ms`,
);

const t1 = performance.now();
const days = await new RollupJob({ store: w.store, now: () => now, logger: quietLogger() }).run();
console.log(`  rolled up ${days} days in ${Math.round(performance.now() - t1)} ms`);

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Wall time (what a user waits) and CPU time of this process (what the work costs: on a busy
 * machine, wall time also counts waiting for a core).
 */
async function measure(label: string, runs: number, fn: () => Promise<unknown>) {
  for (let i = 0; i < 3; i++) await fn(); // warm up the JIT, the statement cache and the rollup cache
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const c = cpuMs();
    await fn();
    times.push(performance.now() - start);
    cpu.push(cpuMs() - c);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const p95 = percentile(times, 95);
  console.log(
    `${label.padEnd(44)} p50 ${percentile(times, 50).toFixed(1).padStart(6)} ms  p95 ${p95.toFixed(1).padStart(6)} ms  (cpu p50 ${percentile(cpu, 50).toFixed(1).padStart(6)} ms)`,
  );
  return p95;
}

console.log(`\n${CLIENTS.toLocaleString("en")} clients, ${DAYS} days (load average ${loadAverage()}):`);
let worst = 0;
for (const [period, ms] of Object.entries(SUMMARY_PERIODS))
  worst = Math.max(
    worst,
    await measure(`summary ${period} (function)`, 30, () => summarise(w.store, Date.now() - ms, Date.now())),
  );
// cold: the first summary after a day was rolled up reads both days' running totals (a fresh
// store has nothing cached)
const cold: number[] = [];
for (let i = 0; i < 5; i++) {
  const fresh = await openStore({ dataDir: w.dir.path });
  const start = performance.now();
  await summarise(fresh, Date.now() - SUMMARY_PERIODS["90d"], Date.now());
  cold.push(performance.now() - start);
  await fresh.close();
}
console.log(
  `${"summary 90d, cold (first after a new day)".padEnd(44)} p50 ${percentile(
    cold.sort((a, b) => a - b),
    50,
  )
    .toFixed(1)
    .padStart(6)} ms`,
);
const token = (await createApiToken(w.store, "bench", "viewer", Date.now())).token;
const api = (path: string) => async () => {
  const res = await w.handle(path, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
};
const p95api = await measure("GET /api/v1/summary?period=90d (JSON)", 20, api("/api/v1/summary?period=90d"));
await measure("GET /api/v1/summary?period=7d (JSON)", 20, api("/api/v1/summary?period=7d"));
const admin = await signIn(w.handle, "admin");
const page = (path: string) => async () => {
  const res = await w.handle(path, { headers: { cookie: admin.cookie } });
  await res.text();
};
await measure("GET / (overview, 300 rows with strips)", 20, page("/"));
await measure("GET /analytics?period=90d", 10, page("/analytics?period=90d"));
await measure("GET /clients/:id (a client's 30 days)", 20, page("/clients/c_bench000003"));
const size = (
  await (
    await w.handle("/api/v1/summary?period=90d", { headers: { authorization: `Bearer ${token}` } })
  ).arrayBuffer()
).byteLength;
console.log(`  summary JSON for ${CLIENTS} clients: ${(size / 1024 / 1024).toFixed(1)} MiB`);
console.log(
  worst < GOAL_MS
    ? `OK: summary p95 ${worst.toFixed(1)} ms < ${GOAL_MS} ms (the API with JSON: ${p95api.toFixed(1)} ms)`
    : `OVER BUDGET: summary p95 ${worst.toFixed(1)} ms >= ${GOAL_MS} ms`,
);
await w.close();
