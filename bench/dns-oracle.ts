/**
 * DNS oracle benchmark: what one query costs.
 *
 *   bun bench/dns-oracle.ts [seconds per run, default 10]
 *
 * 1. respond() in-process: decode, answer, encode one label query (no I/O).
 * 2. The real `sentinel server --dns-zone` (SQLite data dir, from source or SENTINEL_BENCH_BIN)
 *    on 127.0.0.1, asked over UDP with 32 queries in flight: once for labels it minted (every
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
const IN_FLIGHT = 32;
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

async function load(
  name: (i: number) => string,
): Promise<{ qps: number; cpuUs: number; p50: number; p99: number; lost: number }> {
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let next = 0;
  let running = true;
  const socket = await Bun.udpSocket({
    socket: {
      data(_s, data) {
        const id = Buffer.from(data).readUInt16BE(0);
        const t = sentAt.get(id);
        if (t === undefined) return;
        sentAt.delete(id);
        latencies.push(performance.now() - t);
        if (running) send();
      },
    },
  });
  const send = () => {
    const i = next++;
    const id = i & 0xffff;
    sentAt.set(id, performance.now());
    socket.send(query(name(i), id), dnsPort, "127.0.0.1");
  };
  const cpu0 = cpuSecondsOf(server.proc.pid);
  const t0 = performance.now();
  for (let i = 0; i < IN_FLIGHT; i++) send();
  await Bun.sleep(SECONDS * 1000);
  running = false;
  const elapsed = (performance.now() - t0) / 1000;
  await Bun.sleep(200);
  const cpu = cpuSecondsOf(server.proc.pid) - cpu0;
  socket.close();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    qps: latencies.length / elapsed,
    cpuUs: (cpu * 1e6) / latencies.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    lost: sentAt.size,
  };
}

try {
  const minted = Array.from({ length: 5000 }, () => labels.mint("c_bench", Date.now(), 3_600_000));
  console.log(
    `load average at start: ${loadAverage()}; ${SECONDS} s per run, ${IN_FLIGHT} queries in flight`,
  );
  console.log("| queries | queries/s | server CPU per query | p50 | p99 | unanswered |");
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
