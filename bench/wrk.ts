/**
 * Ingest measured with wrk (a C load generator, Debian package `wrk`): the requests are signed
 * before the run and replayed by bench/signed.lua, each nonce once, so the load generator spends
 * nothing on HMACs and a bare Bun.serve shows what this machine's HTTP stack can do.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeSignature } from "../src/protocol/signing.ts";
import { type Credentials, healthyReport, INGEST_INTERVAL_S } from "./lib.ts";

export const WRK_THREADS = 2;
export const WRK_CONNECTIONS = 64;

export function wrkInstalled(): boolean {
  return Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0;
}

/**
 * Signs `perThread` reports for each wrk thread, round-robin over the clients, with timestamps of
 * now, into `dir` for bench/signed.lua (one file per thread: the threads need not run equally fast).
 */
export function signRequests(dir: string, url: string, creds: Credentials[], perThread: number): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const body = JSON.stringify(healthyReport(undefined, INGEST_INTERVAL_S));
  const host = new URL(url).host;
  writeFileSync(
    join(dir, "head.txt"),
    `POST /api/v1/reports HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n`,
  );
  writeFileSync(join(dir, "body.json"), body);
  const ts = String(Math.floor(Date.now() / 1000));
  const prefix = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  const lines: string[][] = Array.from({ length: WRK_THREADS }, () => []);
  for (let i = 0; i < perThread * WRK_THREADS; i++) {
    const c = creds[i % creds.length] as Credentials;
    const nonce = `${prefix}${i.toString(36).padStart(8, "0")}`;
    lines[i % WRK_THREADS]?.push(
      `${c.id} ${ts} ${nonce} ${computeSignature(c.secret, c.id, ts, nonce, body)}`,
    );
  }
  lines.forEach((l, thread) => {
    writeFileSync(join(dir, `signed-${thread}.txt`), `${l.join("\n")}\n`);
  });
}

export interface WrkResult {
  requests: number;
  perS: number;
  p50: number;
  p99: number;
  /** socket errors and answers other than 2xx/3xx */
  errors: number;
  errorText: string;
  /** a thread ran out of pre-signed requests and replayed: the run is not valid */
  wrapped: number;
}

/** One wrk run of durationS against url with the requests signed into dir. */
export async function runWrk(url: string, dir: string, durationS: number): Promise<WrkResult> {
  const proc = Bun.spawn(
    [
      "wrk",
      `-t${WRK_THREADS}`,
      `-c${WRK_CONNECTIONS}`,
      `-d${durationS}s`,
      "--timeout",
      "10s",
      "-s",
      join(import.meta.dir, "signed.lua"),
      `${url}/api/v1/reports`,
      "--",
      dir,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const json = out.split("\n").find((l) => l.startsWith('{"requests"'));
  if (code !== 0 || !json) throw new Error(`wrk failed (exit ${code}): ${err || out}`);
  const r = JSON.parse(json) as Record<string, number>;
  const n = (k: string) => r[k] as number;
  const kinds = ["connect", "read", "write", "status", "timeout"].filter((k) => n(k) > 0);
  return {
    requests: n("requests"),
    perS: n("requests") / (n("durationUs") / 1e6),
    p50: n("p50Us") / 1000,
    p99: n("p99Us") / 1000,
    errors: kinds.reduce((sum, k) => sum + n(k), 0),
    errorText: kinds.map((k) => `${n(k)} ${k}`).join(", "),
    wrapped: n("wrapped"),
  };
}
