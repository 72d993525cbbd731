/**
 * A load generator's HTTP/1.1 client on plain keep-alive sockets: the request is written as
 * bytes and the answer read for its status line and Content-Length, nothing else. fetch() costs
 * the load generator several times the CPU of this per request (headers objects, a timer per
 * request, body streams), and on a 2-core machine every microsecond the load generator spends is
 * taken from the server it measures.
 *
 * One request at a time per connection (no pipelining); a request finds an idle connection, or
 * opens one up to `maxConnections`, or waits in line (its wait counts in its latency).
 */
import type { Socket } from "bun";

export interface Answer {
  status: number;
  /** milliseconds from post() to the last byte of the answer */
  ms: number;
}

interface Waiting {
  bytes: Uint8Array;
  since: number;
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
}

interface Conn {
  socket: Socket<Conn> | null;
  current: Waiting | null;
  buffer: Buffer;
  /** when its last answer came (performance.now()) */
  idleSince: number;
  /** ends the connection when the current request's answer is too slow */
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * A connection idle longer than this is closed rather than used: the server closes idle ones
 * (Bun's idleTimeout, 10 s), and a request written as that close crosses it would be lost.
 */
const MAX_IDLE_MS = 4_000;

const HEAD_END = Buffer.from("\r\n\r\n");

export class Http1Pool {
  private readonly idle: Conn[] = [];
  private readonly line: Waiting[] = [];
  private open = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxConnections: number,
    /** an answer slower than this fails the request and its connection */
    private readonly timeoutMs = 30_000,
  ) {}

  static forUrl(url: string, maxConnections: number): Http1Pool {
    const u = new URL(url);
    if (u.protocol !== "http:") throw new Error(`plain http only: ${url}`);
    return new Http1Pool(u.hostname, Number(u.port || 80), maxConnections);
  }

  /** POSTs `body` with `headers` (Host and Content-Length are added). */
  post(path: string, headers: Record<string, string>, body: string): Promise<Answer> {
    let head = `POST ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    const text = `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise((resolve, reject) => {
      const w: Waiting = { bytes: Buffer.from(text), since: performance.now(), resolve, reject };
      const conn = this.takeIdle();
      if (conn) this.send(conn, w);
      else if (this.open < this.maxConnections) void this.connect(w);
      else this.line.push(w);
    });
  }

  /** The most recently used idle connection; those idle too long are closed on the way. */
  private takeIdle(): Conn | undefined {
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      if (performance.now() - conn.idleSince < MAX_IDLE_MS) return conn;
      this.open--;
      conn.socket?.end();
      conn.socket = null; // its close event finds nothing left to count
    }
    return undefined;
  }

  close(): void {
    for (const c of this.idle.splice(0)) c.socket?.end();
  }

  private async connect(first: Waiting): Promise<void> {
    this.open++;
    const conn: Conn = { socket: null, current: null, buffer: Buffer.alloc(0), idleSince: 0 };
    try {
      conn.socket = await Bun.connect<Conn>({
        hostname: this.host,
        port: this.port,
        data: conn,
        socket: {
          data: (s, chunk) => this.received(s.data, chunk),
          close: (s) => this.lost(s.data, new Error("connection closed")),
          error: (s, e) => this.lost(s.data, e),
        },
      });
    } catch (e) {
      this.open--;
      first.reject(e as Error);
      return;
    }
    this.send(conn, first);
  }

  private send(conn: Conn, w: Waiting): void {
    conn.current = w;
    conn.timer = setTimeout(() => conn.socket?.end(), this.timeoutMs);
    conn.socket?.write(w.bytes);
  }

  private received(conn: Conn, chunk: Buffer): void {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : chunk;
    const end = conn.buffer.indexOf(HEAD_END);
    if (end < 0) return;
    const head = conn.buffer.toString("latin1", 0, end);
    if (/\r\ntransfer-encoding:/i.test(head)) {
      conn.socket?.end(); // not needed by what this measures: say so rather than misread the stream
      this.lost(conn, new Error("chunked answers are not supported"));
      return;
    }
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const total = end + HEAD_END.length + length;
    if (conn.buffer.length < total) return;
    conn.buffer = conn.buffer.subarray(total);
    const w = conn.current;
    conn.current = null;
    clearTimeout(conn.timer);
    if (!w) return;
    w.resolve({ status: Number(head.slice(9, 12)), ms: performance.now() - w.since });
    const next = this.line.shift();
    if (next) this.send(conn, next);
    else {
      conn.idleSince = performance.now();
      this.idle.push(conn);
    }
  }

  private lost(conn: Conn, e: Error): void {
    if (conn.socket === null && conn.current === null) return; // already counted
    this.open--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    conn.socket = null;
    const w = conn.current;
    conn.current = null;
    clearTimeout(conn.timer);
    w?.reject(e);
    const next = this.line.shift();
    if (next) void this.connect(next);
  }
}
