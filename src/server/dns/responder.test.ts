import { describe, expect, test } from "bun:test";
import type { Answer, OptAnswer } from "dns-packet";
import * as dnsPacket from "dns-packet";
import fc from "fast-check";
import { type QueryContext, respond, type ZoneConfig } from "./responder.ts";

const ZONE: ZoneConfig = {
  zone: "leak.example.org",
  nsName: "ns.leak.example.org",
  answerIps: { v4: ["203.0.113.9"], v6: ["2001:db8::9"] },
  serial: 7,
};
const FROM: QueryContext = { from: "198.51.100.53", transport: "udp" };

function query(name: string, type: string, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: "query",
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as "A", class: "IN" }],
    ...extra,
  });
}

function ask(packet: Buffer, zone = ZONE, ctx = FROM) {
  const out = respond(packet, zone, ctx);
  const reply = out.reply ? dnsPacket.decode(out.reply) : null;
  const rcode = out.reply ? out.reply.readUInt16BE(2) & 0xf : null;
  return { ...out, decoded: reply, rcode, aa: reply?.flag_aa ?? false };
}

const ecs = (ip: string, prefix: number): OptAnswer => ({
  type: "OPT",
  name: ".",
  udpPayloadSize: 4096,
  extendedRcode: 0,
  ednsVersion: 0,
  flags: 0,
  flag_do: false,
  options: [
    { code: 8, family: ip.includes(":") ? 2 : 1, sourcePrefixLength: prefix, scopePrefixLength: 0, ip },
  ],
});

describe("DNS oracle answers", () => {
  test("a label: A and AAAA carry the answer addresses with TTL 0, authoritatively, and say who asked", () => {
    const a = ask(query("AbC123.Leak.Example.Org", "A"));
    expect(a.rcode).toBe(0);
    expect(a.aa).toBe(true);
    expect(a.decoded?.id).toBe(4242);
    expect(a.decoded?.flag_rd).toBe(true);
    expect(a.decoded?.flag_ra).toBe(false);
    // the question is echoed as asked (a resolver using 0x20 compares the case)
    expect(a.decoded?.questions?.[0]?.name).toBe("AbC123.Leak.Example.Org");
    expect(a.decoded?.answers).toEqual([
      expect.objectContaining({ type: "A", name: "AbC123.Leak.Example.Org", ttl: 0, data: "203.0.113.9" }),
    ]);
    expect(a.asked).toEqual({
      label: "abc123",
      name: "abc123.leak.example.org",
      qtype: "A",
      clientSubnet: null,
    });
    const aaaa = ask(query("abc123.leak.example.org", "AAAA"));
    expect(aaaa.decoded?.answers?.map((r) => (r as { data: string }).data)).toEqual(["2001:db8::9"]);
    expect(aaaa.asked?.qtype).toBe("AAAA");
  });

  test("without answer addresses a label gets an empty answer and the SOA (negative TTL 0)", () => {
    const r = ask(query("abc.leak.example.org", "A"), { ...ZONE, answerIps: { v4: [], v6: [] } });
    expect(r.rcode).toBe(0);
    expect(r.decoded?.answers).toEqual([]);
    const soa = r.decoded?.authorities?.[0] as Answer & { data: { minimum: number } };
    expect(soa.type).toBe("SOA");
    expect(soa.data.minimum).toBe(0);
    expect(r.asked?.label).toBe("abc");
  });

  test("TXT names the asking address and the forwarded client subnet, which is recorded and echoed with scope 0", () => {
    const r = ask(query("abc.leak.example.org", "TXT", { additionals: [ecs("192.0.2.0", 24)] }));
    const texts = r.decoded?.answers?.map((a) => String((a as { data: Buffer[] }).data[0]));
    expect(texts).toEqual(["198.51.100.53", "edns0-client-subnet 192.0.2.0/24"]);
    expect(r.asked?.clientSubnet).toBe("192.0.2.0/24");
    const opt = r.decoded?.additionals?.find((a) => a.type === "OPT") as OptAnswer;
    expect(opt.options[0]).toMatchObject({ code: 8, sourcePrefixLength: 24, scopePrefixLength: 0 });
    // prefix 0 names no network
    expect(
      ask(query("abc.leak.example.org", "A", { additionals: [ecs("0.0.0.0", 0)] })).asked?.clientSubnet,
    ).toBeNull();
    expect(
      ask(query("abc.leak.example.org", "A", { additionals: [ecs("2001:db8::", 56)] })).asked?.clientSubnet,
    ).toBe("2001:db8::/56");
  });

  test("the apex has SOA and NS, with glue for an in-zone name server", () => {
    const soa = ask(query("leak.example.org", "SOA"));
    expect(soa.decoded?.answers?.[0]).toMatchObject({
      type: "SOA",
      data: { mname: "ns.leak.example.org", rname: "hostmaster.leak.example.org", serial: 7 },
    });
    expect(soa.asked).toBeNull();
    const ns = ask(query("leak.example.org", "NS"));
    expect(ns.decoded?.answers?.[0]).toMatchObject({ type: "NS", data: "ns.leak.example.org" });
    expect(ns.decoded?.additionals?.map((a) => a.type)).toEqual(["A", "AAAA"]);
    const outside = ask(query("leak.example.org", "NS"), { ...ZONE, nsName: "home.dyn.example.net" });
    expect(outside.decoded?.answers?.[0]).toMatchObject({ type: "NS", data: "home.dyn.example.net" });
    expect(outside.decoded?.additionals).toEqual([]);
    const mx = ask(query("leak.example.org", "MX"));
    expect([mx.rcode, mx.decoded?.answers?.length, mx.decoded?.authorities?.[0]?.type]).toEqual([
      0,
      0,
      "SOA",
    ]);
  });

  test("names outside the zone are REFUSED: never an open resolver", () => {
    for (const name of [
      "example.org",
      "example.com",
      "leak.example.org.evil.test",
      "xleak.example.org",
      ".",
    ]) {
      const r = ask(query(name, "A"));
      expect(r.rcode).toBe(5);
      expect(r.aa).toBe(false);
      expect(r.decoded?.answers).toEqual([]);
      expect(r.asked).toBeNull();
    }
  });

  test("deeper names are NXDOMAIN; ANY gets one HINFO (RFC 8482); zone transfers are refused", () => {
    expect(ask(query("a.b.leak.example.org", "A")).rcode).toBe(3);
    const any = ask(query("abc.leak.example.org", "ANY"));
    expect(any.decoded?.answers).toEqual([expect.objectContaining({ type: "HINFO" })]);
    expect(any.asked).toBeNull();
    expect(ask(query("leak.example.org", "AXFR")).rcode).toBe(5);
  });

  test("a class other than IN is refused, another opcode is NOTIMP, EDNS version 1 is BADVERS", () => {
    const chaos = dnsPacket.encode({
      type: "query",
      id: 1,
      questions: [{ name: "version.bind", type: "TXT", class: "CH" }],
    });
    expect(ask(chaos).rcode).toBe(5);
    const notify = query("abc.leak.example.org", "A");
    notify.writeUInt16BE(notify.readUInt16BE(2) | (4 << 11), 2); // opcode NOTIFY
    expect(ask(notify).rcode).toBe(4);
    const v1 = query("abc.leak.example.org", "A", {
      additionals: [{ ...ecs("192.0.2.0", 24), ednsVersion: 1 }],
    });
    const r = ask(v1);
    expect(r.rcode).toBe(0);
    expect(r.decoded?.additionals?.[0]).toMatchObject({ type: "OPT", extendedRcode: 1 });
    expect(r.asked).toBeNull();
  });

  test("what is not a query is not answered; what cannot be decoded gets FORMERR", () => {
    expect(respond(Buffer.alloc(5), ZONE, FROM).reply).toBeNull();
    const response = query("abc.leak.example.org", "A");
    response.writeUInt16BE(response.readUInt16BE(2) | 0x8000, 2);
    expect(respond(response, ZONE, FROM).reply).toBeNull();
    const truncated = query("abc.leak.example.org", "A").subarray(0, 20);
    expect(ask(truncated).rcode).toBe(1);
    const huge = query("abc.leak.example.org", "A");
    huge.writeUInt16BE(0xffff, 4); // QDCOUNT 65535
    const r = ask(huge);
    expect([r.rcode, r.decoded?.id, r.decoded?.questions]).toEqual([1, 4242, []]);
    const many = query("abc.leak.example.org", "A");
    many.writeUInt16BE(0xffff, 10); // ARCOUNT 65535
    expect(ask(many).rcode).toBe(1);
    const pointerLoop = Buffer.from(query("abc.leak.example.org", "A"));
    pointerLoop.writeUInt16BE(0xc00c, 12); // the name points at itself
    expect(ask(pointerLoop).rcode).toBe(1);
  });

  test("an answer too big for the UDP exchange is truncated (TC) and complete over TCP", () => {
    const many = {
      ...ZONE,
      answerIps: { v4: [], v6: Array.from({ length: 8 }, (_, i) => `2001:db8::${i + 1}`) },
    };
    const longName = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(40)}.example.org`;
    const zone = { ...many, zone: longName, nsName: `ns.${longName}` };
    const udp = ask(query(longName, "NS"), zone);
    expect(udp.decoded?.flag_tc).toBe(true);
    expect(udp.decoded?.answers).toEqual([]);
    const tcp = ask(query(longName, "NS"), zone, { ...FROM, transport: "tcp" });
    expect(tcp.decoded?.flag_tc).toBe(false);
    expect(tcp.decoded?.additionals?.length).toBe(8);
  });
});

describe("DNS oracle answers: fuzzing (fast-check)", () => {
  /** Every reply decodes, is a response to that id, and only names in the zone get an authoritative answer. */
  function holds(packet: Uint8Array, transport: "udp" | "tcp") {
    const buf = Buffer.from(packet);
    const out = respond(buf, ZONE, { from: "192.0.2.1", transport });
    if (out.reply === null) return;
    const reply = dnsPacket.decode(out.reply);
    expect(reply.type).toBe("response");
    expect(reply.id).toBe(buf.readUInt16BE(0));
    if (transport === "udp") expect(out.reply.length).toBeLessThanOrEqual(1232);
    if (reply.flag_aa) {
      const name = String(reply.questions?.[0]?.name).toLowerCase();
      expect(name === ZONE.zone || name.endsWith(`.${ZONE.zone}`)).toBe(true);
    }
  }

  test("random bytes never crash it", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.constantFrom("udp", "tcp"), (bytes, t) =>
        holds(bytes, t as "udp" | "tcp"),
      ),
      { numRuns: 20_000 },
    );
  });

  const validQueries = fc
    .record({
      label: fc.stringMatching(/^[a-z0-9]{1,40}$/),
      zoneName: fc.constantFrom(ZONE.zone, "example.com", "leak.example.org.x", ""),
      type: fc.constantFrom("A", "AAAA", "TXT", "ANY", "SOA", "NS", "MX", "AXFR", "UNKNOWN_999"),
      ecs: fc.option(fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 }))),
    })
    .map(({ label, zoneName, type, ecs: subnet }) =>
      query(
        zoneName ? `${label}.${zoneName}` : label,
        type,
        subnet ? { additionals: [ecs(subnet[0], Math.min(32, subnet[1]))] } : {},
      ),
    );

  test("a label with a control character is a bare FORMERR, never an answer for a name outside the zone", () => {
    // found by the property below (seed -651260289): "00000\n" decoded, then encoded as "00000\nleak…"
    const packet = query("000000.leak.example.org", "A");
    const at = packet.indexOf(Buffer.from("000000")) + 5;
    packet[at] = 0x0a;
    const out = respond(packet, ZONE, FROM);
    expect(out.asked).toBeNull();
    expect((out.reply as Buffer).readUInt16BE(2) & 0xf).toBe(1); // FORMERR
    holds(packet, "udp");
  });

  test("valid queries, then bit flips, truncation and stretched counts, never crash it", () => {
    fc.assert(
      fc.property(
        validQueries,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        fc.option(fc.tuple(fc.constantFrom(4, 6, 8, 10), fc.integer({ min: 0, max: 0xffff }))),
        (packet, flips, cut, count) => {
          holds(packet, "udp");
          const mutated = Buffer.from(packet);
          for (const [at, value] of flips) mutated[at % mutated.length] = value;
          if (count) mutated.writeUInt16BE(count[1], count[0]);
          holds(mutated, "udp");
          holds(mutated.subarray(0, cut % (mutated.length + 1)), "tcp");
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
