/**
 * DNS oracle benchmark: what one query costs.
 *
 *   bun bench/dns-oracle.ts [seconds per run, default 10]
 *
 * 1. respond() in-process: decode, answer, encode one label query (no I/O).
 * 2. The real `sentinel server --dns-zone` (SQLite data dir, from source or SENTINEL_BENCH_BIN)
 *    on 127.0.0.1, asked over UDP from 200 loopback addresses, one query in flight each: once for labels it minted (every
 *    query is a sighting written to the database before the answer) and once for names it did
 *    not (answered, nothing written). Prints queries/s, the server's CPU per query (from
 *    /proc) and the latency percentiles. Everything stays on loopback.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as dnsPacket from "dns-packet";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { OracleLabels } from "../src/server/dns/labels.ts";
import { respond } from "../src/server/dns/responder.ts";
import { openStore } from "../src/server/store/index.ts";
import {
  cpuSecondsOf,
  freePort,
  loadAverage,
  memoryOf,
  percentile,
  startSentinelServer,
  stopProcess,
} from "./lib.ts";

const SECONDS = Number(Bun.argv[2] ?? 10);
/** source addresses, one query in flight each */
const SOURCES = 200;
const ZONE = "leak.bench.example";

const query = (name: string, id: number) =>
  dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: "A", class: "IN" }],
  });

// 1. in-process
{
  const zone = { zone: ZONE, nsName: `ns.${ZONE}`, answerIps: { v4: ["192.0.2.1"], v6: [] }, serial: 1 };
  const packets = Array.from({ length: 1000 }, (_, i) => query(`${"a".repeat(40)}${i}.${ZONE}`, i));
  for (const p of packets) respond(p, zone, { from: "198.51.100.53", transport: "udp" });
  const n = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    respond(packets[i % 1000] as Buffer, zone, { from: "198.51.100.53", transport: "udp" });
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`respond() in-process: ${us.toFixed(1)} µs per query (${n} queries)`);
}

// 2. the real server
const dir = mkdtempSync(join(tmpdir(), "sentinel-bench-dns-"));
await (await openStore({ dataDir: dir })).close();
const labels = new OracleLabels(loadKeyring(dir).derive("dns oracle labels"));
const dnsPort = await freePort();
const server = await startSentinelServer(dir, {
  extraArgs: ["--dns-zone", ZONE, "--dns-listen", `127.0.0.1:${dnsPort}`],
});
await Bun.sleep(500);

/**
 * One query in flight per source address (127.0.x.y: loopback answers every 127/8 address), so
 * the per-source rate limit (100/s, bursts of 500) is not what is measured. A query lost (none should be) is
 * counted and replaced after 500 ms.
 */
async function load(
  name: (i: number) => string,
): Promise<{ qps: number; cpuUs: number; p50: number; p99: number; lost: number }> {
  const latencies: number[] = [];
  let next = 0;
  let lost = 0;
  let running = true;
  const inFlight = new Map<number, { at: number; send: () => void }>();
  const sockets = await Promise.all(
    Array.from({ length: SOURCES }, async (_, k) => {
      const socket = await Bun.udpSocket({
        hostname: `127.0.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`,
        socket: {
          data(_s, data) {
            const sent = inFlight.get(k);
            if (!sent || Buffer.from(data).readUInt16BE(0) !== (sent.at & 0xffff)) return;
            latencies.push(performance.now() - sent.at);
            inFlight.delete(k);
            if (running) sent.send();
          },
        },
      });
      const send = () => {
        const at = performance.now();
        inFlight.set(k, { at, send });
        socket.send(query(name(next++), Math.floor(at) & 0xffff), dnsPort, "127.0.0.1");
      };
      return { socket, send };
    }),
  );
  const watchdog = setInterval(() => {
    for (const [k, sent] of inFlight)
      if (performance.now() - sent.at > 500) {
        lost++;
        inFlight.delete(k);
        if (running) sent.send();
      }
  }, 100);
  const cpu0 = cpuSecondsOf(server.proc.pid);
  const t0 = performance.now();
  for (const s of sockets) s.send();
  await Bun.sleep(SECONDS * 1000);
  running = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSecondsOf(server.proc.pid) - cpu0;
  await Bun.sleep(200);
  clearInterval(watchdog);
  for (const s of sockets) s.socket.close();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    qps: latencies.length / elapsed,
    cpuUs: (cpu * 1e6) / latencies.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    lost,
  };
}

try {
  const minted = Array.from({ length: 5000 }, () => labels.mint("c_bench", Date.now(), 3_600_000));
  console.log(
    `load average at start: ${loadAverage()}; ${SECONDS} s per run, ${SOURCES} sources with one query in flight each`,
  );
  console.log("| queries | queries/s | server CPU per query | p50 | p99 | lost |");
  console.log("|---|---|---|---|---|---|");
  for (const [what, name] of [
    ["labels it did not mint (answered only)", (i: number) => `x${i}.${ZONE}`],
    ["labels it minted (a sighting written each)", (i: number) => `${minted[i % minted.length]}.${ZONE}`],
  ] as const) {
    const r = await load(name);
    console.log(
      `| ${what} | ${Math.round(r.qps)} | ${r.cpuUs.toFixed(0)} µs | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.lost} |`,
    );
  }
  console.log(`server memory: ${memoryOf(server.proc.pid).rssMiB.toFixed(0)} MiB RSS`);
} finally {
  await stopProcess(server.proc);
  rmSync(dir, { recursive: true, force: true });
}
