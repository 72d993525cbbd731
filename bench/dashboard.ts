/**
 * Dashboard benchmark: the overview with 1,000 judged clients, rendered by the real handler
 * (session check, store read, view model, JSX) via app.handle. Prints the median and p95 of
 * 50 renders, and the page weight (gzipped) with and without htmx. Budget: median < 50 ms,
 * page < 100 KB gzipped without htmx.
 *
 *   bun bench/dashboard.ts [clients]
 */
import { enrollClient } from "../src/server/enrollment.ts";
import { ownAssetBytesGzipped } from "../src/server/web/assets.ts";
import { buildWebApp, sendReport, signIn } from "../test/web-helpers.ts";

const CLIENTS = Number(Bun.argv[2] ?? 1000);
const RUNS = 50;

const w = await buildWebApp();
const exits = ["198.51.100.7", "198.51.100.140", "203.0.113.7", "198.51.100.20"];
const t0 = performance.now();
for (let i = 0; i < CLIENTS; i++) {
  const e = await enrollClient(
    w.store,
    w.keyring,
    `client-${String(i).padStart(4, "0")}`,
    "http://x",
    Date.now(),
  );
  const v4 = exits[i % exits.length] as string;
  if (i % 10 !== 9)
    await sendReport(w, e, {
      v4,
      v4Answers: [
        ["ipify", v4],
        ["icanhazip", v4],
      ],
      resolvers: i % 7 === 0 ? ["192.0.2.130"] : undefined,
    });
}
console.log(`seeded ${CLIENTS} clients (${Math.round(performance.now() - t0)} ms)`);

const admin = await signIn(w.handle, "admin");
const get = (path: string, headers: Record<string, string> = {}) =>
  w.handle(path, { headers: { cookie: admin.cookie, ...headers } });

async function measure(label: string, path: string, headers: Record<string, string> = {}) {
  for (let i = 0; i < 5; i++) await (await get(path, headers)).text(); // warm up the JIT and statement cache
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const body = await (await get(path, headers)).text();
    times.push(performance.now() - start);
    bytes = body.length;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(RUNS / 2)] as number;
  const p95 = times[Math.floor(RUNS * 0.95)] as number;
  console.log(
    `${label.padEnd(34)} median ${median.toFixed(1)} ms  p95 ${p95.toFixed(1)} ms  (${(bytes / 1024).toFixed(0)} KB html)`,
  );
  return median;
}

const median = await measure(`overview, ${CLIENTS} clients`, "/");
await measure(`overview list fragment (htmx)`, "/", { "hx-request": "true", "hx-target": "client-list" });
await measure(`overview filtered (status=red)`, "/?status=red");
const [first] = await w.store.clients.list();
if (first) await measure("client detail", `/clients/${first.id}`);

const html = await (await get("/")).text();
const htmlGz = Bun.gzipSync(html).length;
const own = ownAssetBytesGzipped();
const htmx =
  Bun.gzipSync(await (await w.handle("/assets/htmx.min.js")).text()).length +
  Bun.gzipSync(await (await w.handle("/assets/sse.min.js")).text()).length;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
console.log(
  `page weight (gzipped): html ${kb(htmlGz)} + css/js ${kb(own)} = ${kb(htmlGz + own)} without htmx; htmx + sse ${kb(htmx)}`,
);
const small = await (await get("/?q=client-000")).text();
console.log(`page weight, a 10-client view: ${kb(Bun.gzipSync(small).length + own)} without htmx`);
console.log(
  median < 50
    ? `OK: median ${median.toFixed(1)} ms < 50 ms`
    : `OVER BUDGET: median ${median.toFixed(1)} ms >= 50 ms`,
);
await w.close();
