/**
 * A tiny authoritative-style DNS responder on UDP for tests: it answers every question with
 * records computed from the question and the address that asked, the way the real
 * "who is my resolver" names do (whoami.akamai.net A, o-o.myaddr.l.google.com TXT).
 *
 *   const dns = await startFakeDns();              // 127.0.0.1, random port
 *   ... --dns-resolver 127.0.0.1:${dns.port} ...
 *   dns.queries  // every question seen, with the asking address
 *   await dns.stop();
 *
 * Only A, AAAA and TXT answers are produced; anything the handler returns null for gets
 * NXDOMAIN. Set `silent = true` to drop queries (the client then sees a timeout).
 */
import { createSocket, type RemoteInfo } from "node:dgram";

export interface DnsQuestion {
  name: string;
  type: "A" | "AAAA" | "TXT" | `TYPE${number}`;
  /** The address and port the query came from. */
  from: string;
  fromPort: number;
}

/** Answer strings: addresses for A/AAAA, texts for TXT. null → NXDOMAIN. */
export type DnsHandler = (q: DnsQuestion) => string[] | null;

/** Default: A/TXT answer with the asking address; TXT adds Google-style ECS noise. */
export const whoamiHandler: DnsHandler = (q) => {
  if (q.type === "A") return /^\d+\.\d+\.\d+\.\d+$/.test(q.from) ? [q.from] : [];
  if (q.type === "AAAA") return q.from.includes(":") ? [q.from] : [];
  if (q.type === "TXT") return [q.from, "edns0-client-subnet 192.0.2.0/24"];
  return null;
};

export interface FakeDns {
  port: number;
  host: string;
  queries: DnsQuestion[];
  /** Drop every query instead of answering (simulates a dead resolver). */
  silent: boolean;
  handler: DnsHandler;
  stop(): Promise<void>;
}

const TYPES: Record<number, DnsQuestion["type"]> = { 1: "A", 28: "AAAA", 16: "TXT" };

/** Reads a (non-compressed) question name starting at `offset`; returns the name and the next offset. */
function readName(msg: Buffer, offset: number): [string, number] {
  const labels: string[] = [];
  let i = offset;
  while (i < msg.length) {
    const len = msg[i] as number;
    if (len === 0) return [labels.join("."), i + 1];
    labels.push(msg.subarray(i + 1, i + 1 + len).toString("latin1"));
    i += 1 + len;
  }
  throw new Error("truncated name");
}

function rdataFor(type: DnsQuestion["type"], value: string): Buffer | null {
  if (type === "A") return Buffer.from(value.split(".").map(Number));
  if (type === "AAAA") {
    const [head = "", tail = ""] = value.split("::");
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = value.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
    const buf = Buffer.alloc(16);
    groups.forEach((g, i) => {
      buf.writeUInt16BE(Number.parseInt(g, 16), i * 2);
    });
    return buf;
  }
  if (type === "TXT") {
    const text = Buffer.from(value, "utf8").subarray(0, 255);
    return Buffer.concat([Buffer.from([text.length]), text]);
  }
  return null;
}

/** Builds the response: header, the question echoed, one answer RR per value (name by pointer). */
export function buildDnsResponse(
  query: Buffer,
  questionEnd: number,
  type: DnsQuestion["type"],
  values: string[] | null,
): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const rd = (query[2] as number) & 0x01;
  header[2] = 0x84 | rd; // QR, AA, RD copied
  header[3] = values === null ? 0x83 : 0x80; // RA, rcode NXDOMAIN or NOERROR
  header.writeUInt16BE(1, 4);
  const answers: Buffer[] = [];
  const qtype = query.readUInt16BE(questionEnd - 4);
  for (const v of values ?? []) {
    const rdata = rdataFor(type, v);
    if (!rdata) continue;
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(0, 6); // TTL 0: never cached
    rr.writeUInt16BE(rdata.length, 10);
    answers.push(rr, rdata);
  }
  header.writeUInt16BE(answers.length / 2, 6);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

export async function startFakeDns(
  opts: { host?: string; port?: number; handler?: DnsHandler } = {},
): Promise<FakeDns> {
  const host = opts.host ?? "127.0.0.1";
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  const fake: FakeDns = {
    port: 0,
    host,
    queries: [],
    silent: false,
    handler: opts.handler ?? whoamiHandler,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on("message", (msg: Buffer, rinfo: RemoteInfo) => {
    if (fake.silent || msg.length < 17) return;
    try {
      const [name, afterName] = readName(msg, 12);
      const code = msg.readUInt16BE(afterName);
      const type = TYPES[code] ?? (`TYPE${code}` as const);
      const q: DnsQuestion = { name: name.toLowerCase(), type, from: rinfo.address, fromPort: rinfo.port };
      fake.queries.push(q);
      socket.send(buildDnsResponse(msg, afterName + 4, type, fake.handler(q)), rinfo.port, rinfo.address);
    } catch {
      // a malformed query gets no answer, like many real servers
    }
  });
  await new Promise<void>((resolve) => socket.bind(opts.port ?? 0, host, () => resolve()));
  fake.port = socket.address().port;
  return fake;
}
