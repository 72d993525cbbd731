import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeDns } from "../../test/fakes/dns.ts";
import { Agent } from "./agent.ts";
import { OracleNames, parseOracleGrant } from "./oracle.ts";
import { classifyResponse, oracleLabelsUrl } from "./sender.ts";
import { Spool } from "./spool.ts";

const LABEL_A = "a".repeat(50);
const LABEL_B = "b".repeat(50);
const GRANT = { zone: "leak.example.org", labels: [LABEL_A, LABEL_B], expires_in_s: 330 };

describe("parseOracleGrant", () => {
  test("takes a well-formed grant, lower-casing the zone", () => {
    expect(parseOracleGrant({ ...GRANT, zone: "Leak.Example.ORG" })).toEqual(GRANT);
  });

  test("refuses anything a resolver could not be asked safely", () => {
    for (const bad of [
      null,
      "x",
      { ...GRANT, zone: "nodots" },
      { ...GRANT, zone: "bad zone.org" },
      { ...GRANT, labels: [LABEL_A] },
      { ...GRANT, labels: [LABEL_A, "has.dot"] },
      { ...GRANT, labels: [LABEL_A, "x".repeat(64)] },
      { ...GRANT, expires_in_s: 0 },
      { ...GRANT, expires_in_s: "soon" },
    ])
      expect(parseOracleGrant(bad)).toBeNull();
  });

  test("a 202 carrying dns_oracle hands the grant to the agent; one without leaves it out", () => {
    const body = JSON.stringify({ accepted: true, next_report_in_s: 30, dns_oracle: GRANT });
    expect(classifyResponse(202, body, null, 0)).toMatchObject({ kind: "accepted", oracle: GRANT });
    expect(classifyResponse(202, '{"accepted":true}', null, 0)).not.toHaveProperty("oracle");
  });
});

describe("OracleNames", () => {
  test("a grant gives one round of names, A then AAAA, and is used up", () => {
    const names = new OracleNames(() => 0);
    names.offer(GRANT);
    expect(names.take()).toEqual([
      { name: `${LABEL_A}.leak.example.org`, type: "A" },
      { name: `${LABEL_B}.leak.example.org`, type: "AAAA" },
    ]);
    expect(names.take()).toBeNull();
  });

  test("labels about to expire are not used", () => {
    const clock = { t: 0 };
    const names = new OracleNames(() => clock.t);
    names.offer(GRANT);
    clock.t = 301_000; // 330 s granted, 30 s kept in hand for the lookup and the upload
    expect(names.take()).toBeNull();
  });

  test("without labels in hand it asks whoami, and after a server says it has no zone it waits an hour", async () => {
    let grant: unknown = GRANT;
    const asked: string[] = [];
    const whoami = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => {
        asked.push(new URL(req.url).search);
        return Response.json({ ip: "127.0.0.1", ...(grant ? { dns_oracle: grant } : {}) });
      },
    });
    afterAll(() => whoami.stop(true));
    const url = oracleLabelsUrl({ serverUrl: `http://127.0.0.1:${whoami.port}/`, clientId: "c_one" });
    expect(url).toBe(`http://127.0.0.1:${whoami.port}/api/v1/whoami?client=c_one`);
    const clock = { t: 0 };
    const names = new OracleNames(() => clock.t);
    expect((await names.forRound(url, { timeoutMs: 1000 })).map((n) => n.type)).toEqual(["A", "AAAA"]);
    expect(asked).toEqual(["?client=c_one"]);

    // a 202 gave the next round's: no request
    names.offer(GRANT);
    expect((await names.forRound(url, { timeoutMs: 1000 })).length).toBe(2);
    expect(asked.length).toBe(1);

    // the server has no zone (any more): it says so once, then is left alone for an hour
    grant = null;
    expect(await names.forRound(url, { timeoutMs: 1000 })).toEqual([]);
    expect(await names.forRound(url, { timeoutMs: 1000 })).toEqual([]);
    expect(asked.length).toBe(2);
    clock.t += 3_600_000;
    grant = GRANT;
    expect((await names.forRound(url, { timeoutMs: 1000 })).length).toBe(2);
    expect(asked.length).toBe(3);
  });

  test("an unreachable server means no names this round, and asking again the next", async () => {
    const names = new OracleNames(() => 0);
    expect(await names.forRound("http://127.0.0.1:9/api/v1/whoami?client=c", { timeoutMs: 500 })).toEqual([]);
    expect(names.worthAsking).toBe(true);
  });
});

describe("the agent and the oracle", () => {
  test("the first round's names come from whoami, the next round's from the 202, each looked up A and AAAA", async () => {
    const dns = await startFakeDns({ handler: () => [] });
    let minted = 0;
    const grant = () => ({
      zone: "leak.example.org",
      labels: [`l${++minted}a`, `l${minted}b`],
      expires_in_s: 330,
    });
    const reports: { dns_oracle?: { name: string; type: string }[] }[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const url = new URL(req.url);
        if (url.pathname === "/api/v1/whoami") return Response.json({ ip: "127.0.0.1", dns_oracle: grant() });
        reports.push(await req.json());
        return Response.json({ accepted: true, next_report_in_s: 30, dns_oracle: grant() }, { status: 202 });
      },
    });
    const dir = mkdtempSync(join(tmpdir(), "sentinel-oracle-agent-"));
    const agent = new Agent(
      {
        serverUrl: `http://127.0.0.1:${server.port}`,
        clientId: "c1",
        secret: "s3cret",
        intervalMs: 60_000,
        jitter: 0,
        probe: {
          ip4Providers: [],
          ip6Providers: [],
          anyFamilyProviders: [],
          ipv6: false,
          dnsProbes: [],
          dnsResolver: `127.0.0.1:${dns.port}`,
          timeoutMs: 1000,
        },
        sendTimeoutMs: 2000,
        watchIntervalMs: 0,
        debounceMs: 10,
        sendBackoff: { baseMs: 50, maxMs: 200 },
        stopGraceMs: 500,
      },
      { spool: new Spool({ dir, max: 10 }), logger: { debug() {}, info() {}, warn() {}, error() {} } },
    );
    try {
      await agent.runOnce();
      await agent.runOnce();
      const names = reports.map((r) => r.dns_oracle?.map((l) => `${l.name} ${l.type}`));
      expect(names).toEqual([
        ["l1a.leak.example.org A", "l1b.leak.example.org AAAA"], // from whoami
        ["l2a.leak.example.org A", "l2b.leak.example.org AAAA"], // from the first 202
      ]);
      expect(dns.queries.map((q) => `${q.name} ${q.type}`).sort()).toEqual([
        "l1a.leak.example.org A",
        "l1b.leak.example.org AAAA",
        "l2a.leak.example.org A",
        "l2b.leak.example.org AAAA",
      ]);
    } finally {
      await agent.stop();
      server.stop(true);
      await dns.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
