/**
 * IP -> AS number + organisation from the @ip-location-db/asn CSV files
 * ("start,end,asn,org" per line; start/end inclusive, as addresses or as IPv4 integers).
 *
 * One pass over the CSV records each row's range and AS number in typed arrays, and its
 * organisation as an index into a table of the distinct names (about 80,000 for 640,000 rows,
 * found by hashing the raw field, so each name is decoded once). The 30 MB of CSV text is not
 * kept: the server's memory is mostly this data, and a Raspberry Pi has little.
 */
import { parseIPv4, parseIPv6, type V6 } from "../../protocol/ip.ts";

export interface AsnRecord {
  asn: number;
  /** exactly as published; null when the row has none */
  org: string | null;
}

const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

const utf8 = new TextDecoder();
const latin1 = new TextDecoder("latin1");

export class AsnRanges {
  private constructor(
    /** 32-bit words per address: 1 for IPv4, 4 for IPv6 */
    private readonly words: 1 | 4,
    private readonly starts: Uint32Array,
    private readonly ends: Uint32Array,
    private readonly asns: Uint32Array,
    /** row -> index into orgs */
    private readonly orgIds: Uint32Array,
    private readonly orgs: readonly (string | null)[],
    /** row -> the nearest earlier row still open at its start (only rows that overlap one) */
    private readonly enclosing: Map<number, number>,
    readonly size: number,
  ) {}

  /**
   * Indexes one family's CSV. Rows must be sorted by start address; overlaps are allowed (the data
   * has a few) and resolved at lookup: the containing row that starts last wins, i.e. the innermost.
   */
  static fromCsv(text: Uint8Array, family: 4 | 6, name: string): AsnRanges {
    const words = family === 4 ? 1 : 4;
    let capacity = 1;
    for (let i = text.indexOf(LF); i !== -1; i = text.indexOf(LF, i + 1)) capacity++;
    const starts = new Uint32Array(capacity * words);
    const ends = new Uint32Array(capacity * words);
    const asns = new Uint32Array(capacity);
    const orgIds = new Uint32Array(capacity);
    const orgs: (string | null)[] = [];
    const orgIndex = new Map<bigint, number>();
    const enclosing = new Map<number, number>();
    // Rows whose range is still open, innermost last; see lookup() for why this finds every container.
    const open: number[] = [];
    const address = family === 4 ? parseV4Field : parseV6Field;
    let row = 0;
    let pos = 0;
    while (pos < text.length) {
      if (text[pos] === LF || text[pos] === CR) {
        pos++;
        continue;
      }
      const lineStart = pos;
      const fail = (what: string) => failAt(text, lineStart, name, what);
      const startEnd = commaAfter(text, pos);
      const endEnd = commaAfter(text, startEnd + 1);
      const asnEnd = commaAfter(text, endEnd + 1);
      if (startEnd === -1 || endEnd === -1 || asnEnd === -1) fail("expected start,end,asn,org");
      if (!address(text, pos, startEnd, starts, row * words)) fail("bad start address");
      if (!address(text, startEnd + 1, endEnd, ends, row * words)) fail("bad end address");
      const asn = parseUint(text, endEnd + 1, asnEnd);
      if (asn === null) fail("bad AS number");
      asns[row] = asn as number;
      pos = skipField(text, asnEnd + 1);
      const raw = Bun.hash.wyhash(text.subarray(asnEnd + 1, pos));
      let org = orgIndex.get(raw);
      if (org === undefined) {
        org = orgs.push(decodeField(text, asnEnd + 1)) - 1;
        orgIndex.set(raw, org);
      }
      orgIds[row] = org;
      if (compareRows(starts, ends, row * words, words) > 0) fail("range starts after it ends");
      if (row > 0 && compareRows(starts, starts, row * words, words, (row - 1) * words) < 0) {
        fail("rows are not sorted by start address");
      }
      while (
        open.length > 0 &&
        compareRows(ends, starts, (open.at(-1) as number) * words, words, row * words) < 0
      ) {
        open.pop();
      }
      if (open.length > 0) enclosing.set(row, open.at(-1) as number);
      open.push(row);
      row++;
    }
    return new AsnRanges(words, starts, ends, asns, orgIds, orgs, enclosing, row);
  }

  /**
   * The table as consecutive, non-overlapping pieces of the address space, in address order: each
   * piece's first address (as 32-bit words) and what lookup answers everywhere in it. The answer can
   * only change where a row starts or just after one ends, so those points are all there is to ask.
   */
  *segments(): Generator<{ start: number[]; record: AsnRecord | null }> {
    const w = this.words;
    const points: number[][] = [];
    for (let row = 0; row < this.size; row++) {
      points.push(Array.from(this.starts.subarray(row * w, row * w + w)));
      const after = increment(Array.from(this.ends.subarray(row * w, row * w + w)));
      if (after) points.push(after);
    }
    points.push(new Array<number>(w).fill(0));
    points.sort((a, b) => compareWords(a, b));
    let previous: number[] | null = null;
    for (const point of points) {
      if (previous && compareWords(previous, point) === 0) continue;
      previous = point;
      yield { start: point, record: this.recordAt(this.find(point)) };
    }
  }

  lookupV4(ip: number): AsnRecord | null {
    return this.words === 1 ? this.recordAt(this.find([ip])) : null;
  }

  lookupV6(ip: V6): AsnRecord | null {
    return this.words === 4 ? this.recordAt(this.find(ip)) : null;
  }

  /**
   * Binary search for the last row starting at or before ip. If that row ends before ip, an earlier
   * row can still contain ip only if it was open when this row started, so walking the chain of
   * enclosing rows visits every candidate, innermost first.
   */
  private find(ip: ArrayLike<number>): number {
    let lo = 0;
    let hi = this.size - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareAt(this.starts, mid, ip) <= 0) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let row = best;
    while (row !== -1 && this.compareAt(this.ends, row, ip) < 0) row = this.enclosing.get(row) ?? -1;
    return row;
  }

  private compareAt(column: Uint32Array, row: number, ip: ArrayLike<number>): number {
    const base = row * this.words;
    for (let i = 0; i < this.words; i++) {
      const x = column[base + i] as number;
      const y = ip[i] as number;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  }

  private recordAt(row: number): AsnRecord | null {
    if (row === -1) return null;
    const asn = this.asns[row] as number;
    // AS0 marks space that is explicitly not routed (RFC 7607): no AS to report.
    if (asn === 0) return null;
    return { asn, org: this.orgs[this.orgIds[row] as number] ?? null };
  }
}

/** The next address (words, big-endian), or null past the last one. */
function increment(words: number[]): number[] | null {
  for (let i = words.length - 1; i >= 0; i--) {
    if (words[i] !== 0xffffffff) {
      words[i] = (words[i] as number) + 1;
      return words;
    }
    words[i] = 0;
  }
  return null;
}

function compareWords(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1;
  return 0;
}

function failAt(text: Uint8Array, lineStart: number, name: string, what: string): never {
  const line = 1 + text.subarray(0, lineStart).filter((b) => b === LF).length;
  throw new Error(`${name} line ${line}: ${what}`);
}

/** Index of the comma ending the field that starts at from; -1 if the line ends first. */
function commaAfter(text: Uint8Array, from: number): number {
  for (let i = from; i < text.length; i++) {
    const b = text[i];
    if (b === COMMA) return i;
    if (b === LF || b === CR) return -1;
  }
  return -1;
}

function parseUint(text: Uint8Array, from: number, to: number): number | null {
  if (from >= to || to - from > 10) return null;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = (text[i] as number) - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return n > 0xffffffff ? null : n;
}

/** An IPv4 field, either dotted or as an integer (the smaller, faster "-num" file). */
function parseV4Field(text: Uint8Array, from: number, to: number, out: Uint32Array, at: number): boolean {
  const n = parseUint(text, from, to) ?? parseIPv4(latin1.decode(text.subarray(from, to)));
  if (n === null) return false;
  out[at] = n;
  return true;
}

/**
 * An IPv6 field, parsed from the bytes: decoding 200k small strings would triple start-up time.
 * Forms this fast path does not handle (a trailing dotted quad) go through parseIPv6.
 */
function parseV6Field(text: Uint8Array, from: number, to: number, out: Uint32Array, at: number): boolean {
  const groups = v6Scratch;
  let count = 0;
  let gap = -1;
  let i = from;
  if (text[i] === COLON && text[i + 1] === COLON) {
    gap = 0;
    i += 2;
  }
  while (i < to) {
    let value = 0;
    let digits = 0;
    for (; i < to && digits < 5; i++, digits++) {
      const h = hexValue(text[i] as number);
      if (h === -1) break;
      value = value * 16 + h;
    }
    if (digits === 0 || digits > 4 || count === 8) return parseV6Slow(text, from, to, out, at);
    groups[count++] = value;
    if (i === to) break;
    if (text[i] !== COLON) return parseV6Slow(text, from, to, out, at);
    i++;
    if (text[i] === COLON) {
      if (gap !== -1) return false;
      gap = count;
      i++;
    }
  }
  if (gap === -1 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  for (let w = 0; w < 4; w++) {
    const hi = groupAt(groups, 2 * w, gap, zeros);
    const lo = groupAt(groups, 2 * w + 1, gap, zeros);
    out[at + w] = (hi * 0x10000 + lo) >>> 0;
  }
  return true;
}

const v6Scratch = new Array<number>(8).fill(0);

/** Group n of the full address, given the parsed groups with `zeros` groups elided at `gap`. */
function groupAt(groups: number[], n: number, gap: number, zeros: number): number {
  if (gap === -1 || n < gap) return groups[n] as number;
  if (n < gap + zeros) return 0;
  return groups[n - zeros] as number;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function parseV6Slow(text: Uint8Array, from: number, to: number, out: Uint32Array, at: number): boolean {
  const v6 = parseIPv6(latin1.decode(text.subarray(from, to)));
  if (v6 === null) return false;
  out.set(v6, at);
  return true;
}

function compareRows(a: Uint32Array, b: Uint32Array, atA: number, words: number, atB = atA): number {
  for (let i = 0; i < words; i++) {
    const x = a[atA + i] as number;
    const y = b[atB + i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Position just past the last field of a line (quoted per RFC 4180, so a quoted comma or newline is data). */
function skipField(text: Uint8Array, from: number): number {
  let i = from;
  if (text[i] === QUOTE) {
    for (i++; i < text.length; i++) {
      if (text[i] !== QUOTE) continue;
      if (text[i + 1] === QUOTE) i++;
      else return i + 1;
    }
    return i;
  }
  while (i < text.length && text[i] !== LF && text[i] !== CR) i++;
  return i;
}

/** The last field of a row as UTF-8, unquoted; null when empty. */
function decodeField(text: Uint8Array, from: number): string | null {
  const end = skipField(text, from);
  if (end === from) return null;
  if (text[from] !== QUOTE) return utf8.decode(text.subarray(from, end));
  const inner = utf8.decode(text.subarray(from + 1, end - 1));
  return inner === "" ? null : inner.replaceAll('""', '"');
}
