/**
 * History grows with changes, not heartbeats: a client reporting every 30 s for 30 days with
 * no change adds < 100 KB to the database. Runs the real ingest path (signature, nonce,
 * evaluation, one transaction per report) with an injected clock.
 */
import { expect, test } from "bun:test";
import { signRequest } from "../src/protocol/signing.ts";
import { ReportIngest } from "../src/server/api/reports/service.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { Broker } from "../src/server/broker.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { ClientMonitor } from "../src/server/monitor/service.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import { openStore } from "../src/server/store/index.ts";
import { sampleReport } from "./helpers/report.ts";
import { quietLogger, tempDir } from "./helpers/server.ts";

test("30 days of unchanged 30-second reports add < 100 KB", async () => {
  const dir = tempDir();
  const clock = { t: Date.parse("2026-01-01T00:00:00Z") };
  const now = () => clock.t;
  const store = await openStore({ dataDir: dir.path });
  const keyring = loadKeyring(dir.path);
  const cred = await enrollClient(store, keyring, "steady", "http://x", now());
  const monitor = new ClientMonitor({
    store,
    now,
    logger: quietLogger(),
    geo: testGeo,
    broker: new Broker(),
    home: () => HOME,
  });
  const ingest = new ReportIngest({
    store,
    keyring,
    now,
    accept: (r, tx) => monitor.acceptReport(r, tx),
    limits: { perClient: { ratePerS: 1000, burst: 1000 }, failures: { ratePerS: 1000, burst: 1000 } },
  });
  const size = () => store.sqlite?.sizeBytes() ?? 0;
  const send = async () => {
    const body = JSON.stringify(sampleReport({ observed_at: new Date(now()).toISOString() }));
    const h = signRequest(cred.id, cred.secret, body, Math.floor(now() / 1000));
    await ingest.handle({
      body,
      header: (n) => h[Object.keys(h).find((k) => k.toLowerCase() === n) ?? ""] ?? null,
      sourceIp: "192.0.2.200",
    });
  };

  // An hour of reports at a time shares commits (as under load), then the sweeper runs.
  const hours = async (n: number) => {
    for (let h = 0; h < n; h++) {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 120; i++, clock.t += 30_000) pending.push(send());
      await Promise.all(pending);
      await monitor.sweep();
    }
  };
  await hours(24); // one day to reach steady state (first_seen, nonce table at its working size)
  const before = size();
  const eventsBefore = await store.events.count();
  await hours(30 * 24);
  const growth = size() - before;
  console.log(
    `30 days x 2880 reports/day: database grew by ${growth} bytes (${before} -> ${before + growth})`,
  );
  expect(await store.events.count()).toBe(eventsBefore);
  expect(growth).toBeLessThan(100 * 1024);
  await store.close();
  dir.remove();
}, 120_000);
