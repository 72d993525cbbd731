/** The client page shows where the DNS verdict's resolvers come from: the oracle, or the probes. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { enrollClient } from "../src/server/enrollment.ts";
import { buildReport } from "../src/server/monitor/testing.ts";
import { buildWebApp, type Session, signIn, type WebApp } from "./web-helpers.ts";

let w: WebApp;
let admin: Session;
beforeAll(async () => {
  w = await buildWebApp();
  admin = await signIn(w.handle, "admin");
});
afterAll(() => w.close());

const dnsCard = async (id: string) =>
  (await (await w.handle(`/clients/${id}`, { headers: { cookie: admin.cookie } })).text())
    .split("<article")
    .find((a) => a.includes('id="v-dns"')) ?? "";

test("a resolver seen by the oracle is shown with its query types and transports, and the source is named", async () => {
  const e = await enrollClient(w.store, w.keyring, "oracle-seen", "http://x", Date.now());
  const names = ["aa.leak.example.org", "bb.leak.example.org"];
  const report = {
    ...buildReport({ observedAt: Date.now() }),
    dns_oracle: names.map((name, i) => ({
      name,
      type: i ? ("AAAA" as const) : ("A" as const),
      via: "10.2.0.1",
      latency_ms: 4,
      error: null,
    })),
    oracle_seen: names.map((name, i) => ({
      name,
      qtype: i ? "AAAA" : "A",
      resolver: "198.51.100.53",
      transport: "udp" as const,
      client_subnet: null,
      at: Date.now(),
    })),
  };
  const client = await w.store.clients.get(e.id);
  if (!client) throw new Error("not enrolled");
  // as the report path hands it over once the sightings are attached
  await w.store.transaction((tx) =>
    w.monitor.acceptReport({ client, report, sourceIp: "198.51.100.7", receivedAt: Date.now() }, tx),
  );
  const card = await dnsCard(e.id);
  expect(card).toContain("asked this server&#x27;s DNS oracle (A, AAAA over udp); via 10.2.0.1");
  expect(card).toContain("Source: this server&#x27;s DNS oracle (2 sighting(s) of 2 lookup(s)).");
});
