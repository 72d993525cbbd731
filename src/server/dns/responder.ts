/**
 * The DNS oracle's answers (pure: a query packet in, a reply packet out). Authoritative for one
 * zone only, never a resolver:
 *
 *   ZONE               SOA, NS (glue for an in-zone name server)
 *   <label>.ZONE       A / AAAA: the --dns-answer-ip addresses (or none), TTL 0;
 *                      TXT: the address that asked (and the EDNS client subnet it forwarded),
 *                      like o-o.myaddr.l.google.com, so `dig TXT x.ZONE` shows your resolver
 *   a.b.ZONE           NXDOMAIN
 *   any other name     REFUSED
 *   ANY                one HINFO "RFC8482" record (RFC 8482)
 *   AXFR, IXFR         REFUSED
 *
 * Every answer for a single label under the zone says who asked (`asked`): the listener records
 * it when the label is one the server minted. Parsing and encoding are dns-packet's; this module
 * only checks what a query must look like before trusting it. Packets that are not a query get
 * no answer; a query that cannot be decoded gets FORMERR when at least its header is there.
 */

import type { Answer, OptAnswer, PacketOpt, Question } from "dns-packet";
import * as dnsPacket from "dns-packet";

export interface ZoneConfig {
  /** lower case, no trailing dot */
  zone: string;
  /** the name server's host name (lower case): ns.ZONE, or an outside name such as a dynamic DNS name */
  nsName: string;
  /** what A and AAAA answers for labels (and an in-zone name server) carry */
  answerIps: { v4: readonly string[]; v6: readonly string[] };
  /** SOA serial */
  serial: number;
}

export interface QueryContext {
  /** the address the query came from */
  from: string;
  transport: "udp" | "tcp";
}

/** A query for a single label under the zone: who asked, for what. */
export interface Asked {
  label: string;
  /** `<label>.<zone>`, lower case */
  name: string;
  qtype: string;
  clientSubnet: string | null;
}

export interface Outcome {
  /** null: send nothing */
  reply: Buffer | null;
  asked: Asked | null;
}

const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** BADVERS is an extended rcode: 16 = 1 in the OPT record's upper bits, 0 in the header */
const BADVERS_EXTENDED = 1;
const HEADER_BYTES = 12;
/** A query has one question and no answers; more than a few records of any kind is not a query. */
const MAX_RECORDS = 4;
/** The EDNS buffer size we answer with (DNS flag day 2020). */
const EDNS_PAYLOAD = 1232;
const NEGATIVE_TTL = 0;
const APEX_TTL = 3600;
const KNOWN_CLASSES = new Set(["IN", "CS", "CH", "HS", "ANY"]);

export function respond(packet: Buffer, zone: ZoneConfig, ctx: QueryContext): Outcome {
  if (packet.length < HEADER_BYTES) return { reply: null, asked: null };
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000) return { reply: null, asked: null }; // a response: never answer one (loops)
  const rd = flags & dnsPacket.RECURSION_DESIRED;
  const counts = [4, 6, 8, 10].map((o) => packet.readUInt16BE(o));
  const bare = (rcode: number) => ({ reply: encode({ id, flags: rd | rcode }), asked: null });
  if (counts[0] !== 1 || counts[1] !== 0 || (counts[2] as number) + (counts[3] as number) > MAX_RECORDS)
    return bare(RCODE.FORMERR);

  let query: dnsPacket.DecodedPacket;
  try {
    query = dnsPacket.decode(packet);
  } catch {
    return bare(RCODE.FORMERR);
  }
  const question = query.questions?.[0];
  if (!question || !KNOWN_CLASSES.has(String(question.class)) || !encodable(question.name))
    return bare(RCODE.FORMERR);
  // dns-packet's types leave out the meta types (ANY, AXFR, ...) it decodes all the same
  const qtype: string = question.type;
  const opt = query.additionals?.find((a): a is OptAnswer => a.type === "OPT");
  const reply = new Reply(id, rd, question, opt, ctx.transport);
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { reply: reply.rcode(RCODE.NOTIMP).encode(), asked: null };
  if (opt && opt.ednsVersion !== 0) return { reply: reply.badVersion().encode(), asked: null };

  const name = question.name.toLowerCase().replace(/\.$/, "");
  const inZone = name === zone.zone || name.endsWith(`.${zone.zone}`);
  if (!inZone || question.class !== "IN") return { reply: reply.rcode(RCODE.REFUSED).encode(), asked: null };
  // zone transfers are not offered: the zone is synthesised, there is nothing to copy
  if (qtype === "AXFR" || qtype === "IXFR")
    return { reply: reply.rcode(RCODE.REFUSED).encode(), asked: null };
  reply.authoritative();
  if (qtype === "ANY") return { reply: reply.answer(hinfo(question.name)).encode(), asked: null };
  if (name === zone.zone) return { reply: apex(reply, question, zone).encode(), asked: null };

  const label = name.slice(0, -zone.zone.length - 1);
  if (label.includes("."))
    return { reply: reply.rcode(RCODE.NXDOMAIN).authority(soa(zone)).encode(), asked: null };
  const clientSubnet = reply.clientSubnet;
  const asked: Asked = { label, name, qtype, clientSubnet };
  const records = labelRecords(question, zone, ctx.from, clientSubnet);
  if (records.length === 0) reply.authority(soa(zone));
  for (const r of records) reply.answer(r);
  return { reply: reply.encode(), asked };
}

/**
 * What dns-packet decoded must encode back the same: labels of at most 63 bytes, of printable
 * ASCII without a backslash (dns-packet does not encode a control character or an escape back
 * as it read it: "a\n.zone" came back as "a\nzone", out of the zone). No label we mint or
 * serve has anything else.
 */
function encodable(name: string): boolean {
  if (name === ".") return true;
  return name.split(".").every((l) => {
    const bytes = Buffer.byteLength(l);
    return bytes > 0 && bytes <= 63 && PRINTABLE_LABEL.test(l);
  });
}
const PRINTABLE_LABEL = /^[!-[\]-~]+$/;

function apex(reply: Reply, question: Question, zone: ZoneConfig): Reply {
  if (question.type === "SOA") return reply.answer(soa(zone, question.name));
  if (question.type !== "NS") return reply.authority(soa(zone));
  reply.answer({ type: "NS", name: question.name, ttl: APEX_TTL, data: zone.nsName });
  // glue, when the name server's name is in the zone (it has no other way to be found)
  if (zone.nsName.endsWith(`.${zone.zone}`)) {
    for (const ip of zone.answerIps.v4)
      reply.additional({ type: "A", name: zone.nsName, ttl: APEX_TTL, data: ip });
    for (const ip of zone.answerIps.v6)
      reply.additional({ type: "AAAA", name: zone.nsName, ttl: APEX_TTL, data: ip });
  }
  return reply;
}

/** TTL 0 everywhere: a label must reach the oracle every time it is asked. */
function labelRecords(question: Question, zone: ZoneConfig, from: string, subnet: string | null): Answer[] {
  const name = question.name;
  if (question.type === "A") return zone.answerIps.v4.map((ip) => ({ type: "A", name, ttl: 0, data: ip }));
  if (question.type === "AAAA")
    return zone.answerIps.v6.map((ip) => ({ type: "AAAA", name, ttl: 0, data: ip }));
  if (question.type === "TXT") {
    const texts = [from, ...(subnet ? [`edns0-client-subnet ${subnet}`] : [])];
    return texts.map((t) => ({ type: "TXT", name, ttl: 0, data: t }));
  }
  return [];
}

const soa = (zone: ZoneConfig, name = zone.zone): Answer => ({
  type: "SOA",
  name,
  ttl: NEGATIVE_TTL,
  data: {
    mname: zone.nsName,
    rname: `hostmaster.${zone.zone}`,
    serial: zone.serial,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    // the negative-caching TTL: a fresh label must never be answered from a cache
    minimum: NEGATIVE_TTL,
  },
});

const hinfo = (name: string): Answer => ({ type: "HINFO", name, ttl: 0, data: { cpu: "RFC8482", os: "" } });

function encode(p: dnsPacket.Packet): Buffer {
  return dnsPacket.encode({ type: "response", ...p });
}

/** A response under construction: flags, sections, EDNS and the UDP size limit. */
class Reply {
  private flags: number;
  private extendedRcode = 0;
  private readonly answers: Answer[] = [];
  private readonly authorities: Answer[] = [];
  private readonly additionals: Answer[] = [];
  private readonly echoedSubnet: PacketOpt | null = null;
  /** the EDNS client subnet the query carried ("192.0.2.0/24"); null when none or invalid */
  readonly clientSubnet: string | null = null;
  private readonly maxUdp: number;

  constructor(
    private readonly id: number,
    rd: number,
    private readonly question: Question,
    private readonly opt: OptAnswer | undefined,
    private readonly transport: "udp" | "tcp",
  ) {
    this.flags = rd;
    this.maxUdp = opt ? Math.min(EDNS_PAYLOAD, Math.max(512, opt.udpPayloadSize)) : 512;
    const ecs = opt?.options?.find((o) => o.code === 8) as
      | { family?: number; sourcePrefixLength?: number; ip?: string }
      | undefined;
    const bits = ecs?.family === 1 ? 32 : ecs?.family === 2 ? 128 : 0;
    const prefix = ecs?.sourcePrefixLength ?? -1;
    if (ecs?.ip && bits && prefix >= 0 && prefix <= bits) {
      // echoed with scope 0: the answer is the same for every subnet (RFC 7871 7.2.1)
      this.echoedSubnet = {
        code: 8,
        family: ecs.family,
        sourcePrefixLength: prefix,
        scopePrefixLength: 0,
        ip: ecs.ip,
      };
      // a prefix of 0 asks for no tailoring and names no network
      if (prefix > 0) this.clientSubnet = `${ecs.ip}/${prefix}`;
    }
  }

  rcode(code: number): this {
    this.flags = (this.flags & ~0xf) | code;
    return this;
  }

  badVersion(): this {
    this.extendedRcode = BADVERS_EXTENDED;
    return this;
  }

  authoritative(): this {
    this.flags |= dnsPacket.AUTHORITATIVE_ANSWER;
    return this;
  }

  answer(a: Answer): this {
    this.answers.push(a);
    return this;
  }

  authority(a: Answer): this {
    this.authorities.push(a);
    return this;
  }

  additional(a: Answer): this {
    this.additionals.push(a);
    return this;
  }

  encode(): Buffer {
    const edns: Answer[] = this.opt
      ? [
          {
            type: "OPT",
            name: ".",
            udpPayloadSize: EDNS_PAYLOAD,
            extendedRcode: this.extendedRcode,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: this.echoedSubnet ? [this.echoedSubnet] : [],
          },
        ]
      : [];
    const full = encode({
      id: this.id,
      flags: this.flags,
      questions: [this.question],
      answers: this.answers,
      authorities: this.authorities,
      additionals: [...this.additionals, ...edns],
    });
    if (this.transport === "tcp" || full.length <= this.maxUdp) return full;
    // too big for this UDP exchange: say so (TC), the resolver asks again over TCP
    return encode({
      id: this.id,
      flags: this.flags | dnsPacket.TRUNCATED_RESPONSE,
      questions: [this.question],
      additionals: edns,
    });
  }
}
