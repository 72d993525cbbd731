/**
 * The DNS leak oracle over real sockets on loopback: its listener (UDP and TCP, asked by the
 * real `dig` and by hand-made packets), the sightings it stores, and the whole path with the
 * real server and the real `sentinel client`: labels from the server, lookups through the
 * client's resolver, sightings attached to the report, the DNS verdict built on them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import * as dnsPacket from "dns-packet";
import fc from "fast-check";
import type { ReportV1 } from "../src/protocol/report.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { OracleLabels } from "../src/server/dns/labels.ts";
import { type DnsListener, startDnsListener } from "../src/server/dns/listener.ts";
import type { ZoneConfig } from "../src/server/dns/responder.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import type { GeoLookup } from "../src/server/geo/types.ts";
import { HOME, testGeo, VPN_EXIT } from "../src/server/monitor/testing.ts";
import type { Store } from "../src/server/store/index.ts";
import { startFakeEcho } from "./fakes/echo.ts";
import { run, sentinel } from "./helpers/cli.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, quietLogger, startTestServer, tempDir } from "./helpers/server.ts";
import { openTestStore } from "./helpers/store.ts";

const ZONE_NAME = "leak.example.org";
const ZONE: ZoneConfig = {
  zone: ZONE_NAME,
  nsName: `ns.${ZONE_NAME}`,
  answerIps: { v4: ["203.0.113.9"], v6: [] },
  serial: 1,
};

/** A query as a resolver sends it; `id` to match the reply. */
function query(name: string, type: "A" | "AAAA" | "TXT", id = 7): Buffer {
  return dnsPacket.encode({ type: "query", id, questions: [{ name, type, class: "IN" }] });
}

/** Sends UDP datagrams and collects the replies that arrive within `waitMs`. */
async function udpExchange(port: number, packets: Buffer[], waitMs = 300): Promise<Buffer[]> {
  const replies: Buffer[] = [];
  const socket = await Bun.udpSocket({
    socket: { data: (_s, data) => void replies.push(Buffer.from(data)) },
  });
  for (const p of packets) socket.send(p, port, "127.0.0.1");
  await Bun.sleep(waitMs);
  socket.close();
  return replies;
}

/** Writes raw bytes to the TCP listener and returns what comes back before it closes or `waitMs` passes. */
async function tcpExchange(port: number, bytes: Buffer, waitMs = 300): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("close", done);
    socket.on("error", done);
    setTimeout(done, waitMs);
  });
}

const frame = (packet: Buffer) => {
  const out = Buffer.alloc(2 + packet.length);
  out.writeUInt16BE(packet.length, 0);
  packet.copy(out, 2);
  return out;
};

/**
 * A forwarding resolver on 127.0.0.1 whose egress is `egress` (another loopback address): it
 * relays each query to the oracle from its own socket, as a home router's resolver would.
 */
async function startForwarder(egress: string, upstreamPort: number) {
  const askers = new Map<number, { port: number; address: string }>();
  const upstream = await Bun.udpSocket({
    hostname: egress,
    socket: {
      data(_s, data) {
        const asker = askers.get(Buffer.from(data).readUInt16BE(0));
        if (asker) front.send(data, asker.port, asker.address);
      },
    },
  });
  const front = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(_s, data, port, address) {
        askers.set(Buffer.from(data).readUInt16BE(0), { port, address });
        upstream.send(data, upstreamPort, "127.0.0.1");
      },
    },
  });
  return {
    port: front.port,
    stop() {
      front.close();
      upstream.close();
    },
  };
}

const dig = async (port: number, ...args: string[]) =>
  (await run(["dig", "@127.0.0.1", "-p", String(port), "+time=2", "+tries=1", ...args])).stdout;

describe("the sightings store (OracleRepository)", () => {
  const sighting = (name: string, at: number) => ({
    name,
    qtype: "A",
    resolver: "198.51.100.53",
    transport: "udp" as const,
    client_subnet: null,
    at,
  });

  test("take returns a name's sightings oldest first and removes them; prune forgets the expired", async () => {
    const store = await openTestStore();
    try {
      await store.oracle.record(sighting("b.zone", 20), 1000);
      await store.oracle.record(sighting("a.zone", 10), 1000);
      await store.oracle.record(sighting("a.zone", 5), 1000);
      await store.oracle.record(sighting("old.zone", 1), 50);
      expect((await store.oracle.take(["a.zone", "b.zone", "none"])).map((s) => [s.name, s.at])).toEqual([
        ["a.zone", 5],
        ["a.zone", 10],
        ["b.zone", 20],
      ]);
      expect(await store.oracle.take(["a.zone"])).toEqual([]);
      expect(await store.oracle.prune(100)).toBe(1);
      expect(await store.oracle.take(["old.zone"])).toEqual([]);
    } finally {
      await store.close();
    }
  });

  test("a take inside a transaction that rolls back leaves the sightings for the next report", async () => {
    const store = await openTestStore();
    try {
      await store.oracle.record(sighting("a.zone", 1), 1000);
      await expect(
        store.transaction(async (tx) => {
          expect((await tx.oracle.take(["a.zone"])).length).toBe(1);
          throw new Error("the report was not stored");
        }),
      ).rejects.toThrow("not stored");
      expect((await store.oracle.take(["a.zone"])).length).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe("the DNS oracle's listener", () => {
  let store: Store;
  let listener: DnsListener;
  const labels = new OracleLabels([Buffer.alloc(32, 3)]);

  beforeAll(async () => {
    store = await openTestStore();
    listener = await startDnsListener(
      { hostname: "127.0.0.1", port: 0 },
      {
        zone: ZONE,
        labels,
        record: (s, expiresAt) => store.oracle.record(s, expiresAt),
        now: Date.now,
        logger: quietLogger(),
        rateLimit: { perS: 1000, burst: 5000 },
      },
    );
  });
  afterAll(async () => {
    await listener.stop();
    await store.close();
  });

  test("dig over UDP and TCP: minted labels are recorded before the answer, other names are not", async () => {
    const a = labels.mint("c_one", Date.now(), 60_000);
    const b = labels.mint("c_one", Date.now(), 60_000);
    expect(await dig(listener.port, `${a}.${ZONE_NAME}`, "A", "+short")).toBe("203.0.113.9\n");
    expect(await dig(listener.port, `${b}.${ZONE_NAME}`, "TXT", "+short", "+tcp")).toBe('"127.0.0.1"\n');
    expect(await dig(listener.port, `unminted.${ZONE_NAME}`, "TXT", "+short")).toBe('"127.0.0.1"\n');
    const seen = await store.oracle.take([`${a}.${ZONE_NAME}`, `${b}.${ZONE_NAME}`, `unminted.${ZONE_NAME}`]);
    expect(seen.map((s) => [s.name, s.qtype, s.resolver, s.transport])).toEqual([
      [`${a}.${ZONE_NAME}`, "A", "127.0.0.1", "udp"],
      [`${b}.${ZONE_NAME}`, "TXT", "127.0.0.1", "tcp"],
    ]);
    // taken means gone: a sighting attaches to one report
    expect(await store.oracle.take([`${a}.${ZONE_NAME}`])).toEqual([]);
  });

  test("the EDNS client subnet a resolver forwards is recorded", async () => {
    const label = labels.mint("c_one", Date.now(), 60_000);
    await dig(listener.port, `${label}.${ZONE_NAME}`, "A", "+subnet=192.0.2.77/24", "+short");
    const [seen] = await store.oracle.take([`${label}.${ZONE_NAME}`]);
    expect(seen?.client_subnet).toBe("192.0.2.0/24");
  });

  test("it refuses other zones and answers its apex", async () => {
    expect(await dig(listener.port, "example.com", "A")).toContain("status: REFUSED");
    expect(await dig(listener.port, ZONE_NAME, "NS", "+short")).toBe(`ns.${ZONE_NAME}.\n`);
  });

  test("several queries in one TCP write are answered in order", async () => {
    const bytes = Buffer.concat([
      frame(query(`x.${ZONE_NAME}`, "A", 1)),
      frame(query(`y.${ZONE_NAME}`, "TXT", 2)),
    ]);
    const out = await tcpExchange(listener.port, bytes);
    const first = dnsPacket.decode(out.subarray(2, 2 + out.readUInt16BE(0)));
    const rest = out.subarray(2 + out.readUInt16BE(0));
    const second = dnsPacket.decode(rest.subarray(2, 2 + rest.readUInt16BE(0)));
    expect([first.id, second.id]).toEqual([1, 2]);
  });

  test("garbage over UDP and TCP (fast-check) never stops it: a query afterwards is still answered", async () => {
    const samples = fc
      .sample(fc.uint8Array({ minLength: 0, maxLength: 600 }), 400)
      .map((b) => Buffer.from(b));
    const huge = query(`x.${ZONE_NAME}`, "A");
    huge.writeUInt16BE(0xffff, 4); // QDCOUNT 65535
    await udpExchange(listener.port, [...samples, huge], 200);
    for (const bytes of samples.slice(0, 20)) await tcpExchange(listener.port, frame(bytes), 50);
    // a frame announcing more than it sends, and a connection cut mid-frame
    await tcpExchange(listener.port, Buffer.from([0xff, 0xff, 1, 2, 3]), 50);
    const formerr = await tcpExchange(listener.port, frame(huge));
    expect(formerr.readUInt16BE(2 + 2) & 0xf).toBe(1);
    const [reply] = await udpExchange(listener.port, [query(`z.${ZONE_NAME}`, "A", 99)]);
    expect(reply && dnsPacket.decode(reply).id).toBe(99);
  });
});

describe("the DNS oracle's rate limit", () => {
  test("a source beyond its burst gets no answer", async () => {
    const store = await openTestStore();
    const clock = { t: Date.now() };
    const listener = await startDnsListener(
      { hostname: "127.0.0.1", port: 0 },
      {
        zone: ZONE,
        labels: new OracleLabels([Buffer.alloc(32, 3)]),
        record: (s, e) => store.oracle.record(s, e),
        now: () => clock.t,
        logger: quietLogger(),
        rateLimit: { perS: 1, burst: 3 },
      },
    );
    try {
      const replies = await udpExchange(
        listener.port,
        Array.from({ length: 6 }, (_, i) => query(`q${i}.${ZONE_NAME}`, "A", i)),
      );
      expect(replies.length).toBe(3);
      expect(listener.counts.limited).toBe(3);
      clock.t += 1000; // a second later, one more token
      expect((await udpExchange(listener.port, [query(`late.${ZONE_NAME}`, "A", 50)])).length).toBe(1);
    } finally {
      await listener.stop();
      await store.close();
    }
  });
});

describe("starting the DNS oracle", () => {
  test("a DNS option without --dns-zone, or a port already taken, stops the start with a clear message", async () => {
    await expect(startTestServer({ dnsListen: "127.0.0.1:5353" })).rejects.toThrow(
      "--dns-listen needs --dns-zone",
    );
    const taken = await Bun.udpSocket({ hostname: "127.0.0.1" });
    try {
      await expect(
        startTestServer({ dnsZone: ZONE_NAME, dnsListen: `127.0.0.1:${taken.port}` }),
      ).rejects.toThrow(`--dns-listen 127.0.0.1:${taken.port}:`);
    } finally {
      taken.close();
    }
  });
});

describe("the DNS oracle end to end: real server, real client", () => {
  const dir = tempDir();
  const spool = tempDir();
  /** the resolvers the oracle sees: 127.0.0.1 stands in for the VPN's, 127.0.0.2 for the home ISP's */
  const geo: GeoLookup = {
    lookup: (ip) =>
      ip === "127.0.0.1"
        ? { ip, asn: 64501, org: "VPN Co São Paulo", country: "BR", source: "override" }
        : ip === "127.0.0.2"
          ? { ip, asn: 64500, org: "Home ISP Toruń", country: "PL", source: "override" }
          : testGeo.lookup(ip),
  };
  const echo = startFakeEcho({ answer: VPN_EXIT });
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let alice: Credentials & { token: string };
  let bob: Credentials & { token: string };

  beforeAll(async () => {
    const store = await openServerStore(dir.path);
    const keyring = loadKeyring(dir.path);
    alice = await enrollClient(store, keyring, "alice", "http://x", Date.now());
    bob = await enrollClient(store, keyring, "bob", "http://x", Date.now());
    await store.close();
    server = await startTestServer({
      dataDir: dir.path,
      geo,
      homeIp: HOME.addresses,
      homeAsn: HOME.asns,
      dnsZone: ZONE_NAME,
      dnsListen: "127.0.0.1:0",
    });
    alice.token = alice.token.replace(/.*/, tokenFor(alice));
    bob.token = tokenFor(bob);
  });
  afterAll(async () => {
    await server.stop();
    echo.stop();
    dir.remove();
    spool.remove();
  });

  const tokenFor = (c: Credentials) =>
    `st1.${Buffer.from(JSON.stringify({ u: server.url, c: c.id, s: c.secret })).toString("base64url")}`;

  /** One round of the real client: labels from whoami, lookups through the oracle itself as resolver. */
  const once = (c: { token: string }, resolverPort = server.dns?.port as number) =>
    sentinel(
      [
        "client",
        "--once",
        "--ip4-provider",
        echo.url,
        "--no-ipv6",
        "--dns-resolver",
        `127.0.0.1:${resolverPort}`,
        "--timeout",
        "2s",
        "--spool-dir",
        spool.path,
      ],
      { env: { SENTINEL_TOKEN: c.token } },
    );

  const dnsVerdict = async (id: string) => {
    const store = await openServerStore(dir.path);
    try {
      return (await store.clients.get(id))?.state?.verdicts?.dns;
    } finally {
      await store.close();
    }
  };

  test("whoami names the zone, and with ?client= hands out labels", async () => {
    const plain = (await (await fetch(`${server.url}/api/v1/whoami`)).json()) as Record<string, unknown>;
    expect(plain.dns_oracle).toEqual({ zone: ZONE_NAME });
    const res = await fetch(`${server.url}/api/v1/whoami?client=${alice.id}`);
    const grant = ((await res.json()) as { dns_oracle: { labels: string[]; expires_in_s: number } })
      .dns_oracle;
    expect(grant.labels.length).toBe(2);
    expect(grant.expires_in_s).toBe(300);
    expect((await fetch(`${server.url}/api/v1/whoami?client=no%20such`)).status).toBe(400);
  });

  test("the oracle alone judges DNS: green through the VPN's resolver, red through home, and says so", async () => {
    // the client's third-party probes go to the oracle too, which refuses them: no other evidence
    const green = await once(alice);
    expect(green.code).toBe(0);
    expect(green.stdout + green.stderr).toContain("the server says GREEN");
    const ok = await dnsVerdict(alice.id);
    expect(ok?.status).toBe("ok");
    expect(ok?.reason).toContain("Seen by this server's DNS oracle.");
    expect(ok?.evidence.source).toBe("oracle");
    expect(ok?.evidence.oracle).toEqual({ lookups: 2, sightings: 2 });
    expect(ok?.evidence.resolvers).toEqual([
      expect.objectContaining({
        ip: "127.0.0.1",
        judgement: "exit_network",
        source: "oracle",
        probes: ["oracle A", "oracle AAAA"],
        transports: ["udp"],
      }),
    ]);

    // the same client, now resolving through the home line's resolver
    const home = await startForwarder("127.0.0.2", server.dns?.port as number);
    try {
      const red = await once(alice, home.port);
      expect(red.stdout + red.stderr).toContain("the server says RED");
      const leak = await dnsVerdict(alice.id);
      expect(leak?.status).toBe("leak");
      expect(leak?.reason).toBe(
        "DNS leaks: resolver 127.0.0.2 (AS64500 Home ISP Toruń, PL) is in the home network's AS64500. Seen by this server's DNS oracle.",
      );
    } finally {
      home.stop();
    }
  });

  /** Labels for `who`, looked up at the oracle so the sightings exist, as a signed report's dns_oracle. */
  async function lookedUp(who: Credentials): Promise<ReportV1["dns_oracle"]> {
    const res = await fetch(`${server.url}/api/v1/whoami?client=${who.id}`);
    const { labels } = ((await res.json()) as { dns_oracle: { labels: string[] } }).dns_oracle;
    const names = labels.map((l) => `${l}.${ZONE_NAME}`);
    await udpExchange(server.dns?.port as number, [
      query(names[0] as string, "A"),
      query(names[1] as string, "AAAA"),
    ]);
    return names.map((name, i) => ({
      name,
      type: i ? "AAAA" : "A",
      via: "127.0.0.1",
      latency_ms: 1,
      error: null,
    }));
  }

  const post = async (who: Credentials, lookups: ReportV1["dns_oracle"]) => {
    const body = JSON.stringify(sampleReport({ dns: [], ipv6: undefined, dns_oracle: lookups }));
    const res = await fetch(signedPost(server.url, who, body));
    return { status: res.status, body: (await res.json()) as { dns_oracle?: { labels: string[] } } };
  };

  test("each label counts once, only for the client it was minted for, and each 202 grants the next ones", async () => {
    const lookups = await lookedUp(alice);
    // bob cannot claim alice's sightings
    expect((await post(bob, lookups)).status).toBe(202);
    expect((await dnsVerdict(bob.id))?.evidence.oracle).toEqual({ lookups: 2, sightings: 0 });
    const first = await post(alice, lookups);
    expect(first.body.dns_oracle?.labels.length).toBe(2);
    expect((await dnsVerdict(alice.id))?.evidence.oracle).toEqual({ lookups: 2, sightings: 2 });
    // the same names again (a resolver asked once more meanwhile): burnt, nothing attaches
    await udpExchange(server.dns?.port as number, [query(lookups?.[0]?.name as string, "TXT")]);
    await post(alice, lookups);
    const again = await dnsVerdict(alice.id);
    expect(again?.evidence.oracle).toEqual({ lookups: 2, sightings: 0 });
    expect(again?.status).toBe("unknown");
    expect(again?.reason).toContain("this server's DNS oracle saw none of this report's lookups");
  });

  test("sightings recorded by another process's listener (another replica) attach all the same", async () => {
    // a second listener with its own connection to the database: nothing shared in memory
    const other = await openServerStore(dir.path);
    const labels = new OracleLabels(loadKeyring(dir.path).derive("dns oracle labels"));
    const replica = await startDnsListener(
      { hostname: "127.0.0.1", port: 0 },
      {
        zone: ZONE,
        labels,
        record: (s, e) => other.oracle.record(s, e),
        now: Date.now,
        logger: quietLogger(),
      },
    );
    try {
      const r = await once(alice, replica.port);
      expect(r.stdout + r.stderr).toContain("the server says GREEN");
      expect(replica.counts.recorded).toBe(2);
      expect((await dnsVerdict(alice.id))?.evidence.oracle).toEqual({ lookups: 2, sightings: 2 });
    } finally {
      await replica.stop();
      await other.close();
    }
  });
});
