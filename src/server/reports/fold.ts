/**
 * The arithmetic of history: change-only rows in, totals and timeline segments out. Pure, and
 * O(rows): a client that reports every 30 s for a week without a change is one row, not 20,000.
 *
 * Time counts only while known: never before the client was first seen, never while the server
 * itself was down (both "unknown", not downtime). An incident kind (bypass, dns, ipv6, exit,
 * offline; see monitor/causes.ts) "begins" when a row turns its cause on; a red stretch
 * "recovers" when a row ends it, and its length for the mean time to recovery is wall clock from
 * turning red. A fold may start before the window it counts (at a day boundary, with the carry
 * of the day before), so an incident under way when the window opens keeps its true start.
 */
import { INCIDENT_CAUSE, INCIDENT_KINDS } from "../monitor/causes.ts";
import type { HistoryRow, IncidentKind, RollupCarry, Totals } from "../store/index.ts";

export const DAY_MS = 86_400_000;
/** The UTC day number of a time. */
export const dayOf = (t: number) => Math.floor(t / DAY_MS);
export const dayStart = (day: number) => day * DAY_MS;

export function emptyTotals(): Totals {
  return {
    knownMs: 0,
    upMs: 0,
    greenMs: 0,
    yellowMs: 0,
    redMs: 0,
    greyMs: 0,
    changes: 0,
    bypassN: 0,
    bypassMs: 0,
    dnsN: 0,
    dnsMs: 0,
    ipv6N: 0,
    ipv6Ms: 0,
    exitN: 0,
    exitMs: 0,
    offlineN: 0,
    offlineMs: 0,
    recoveredN: 0,
    recoveredMs: 0,
  };
}

const FIELDS = Object.keys(emptyTotals()) as (keyof Totals)[];

export function addTotals(a: Totals, b: Totals): Totals {
  const out = emptyTotals();
  for (const f of FIELDS) out[f] = a[f] + b[f];
  return out;
}

export function subtractTotals(a: Totals, b: Totals): Totals {
  const out = emptyTotals();
  for (const f of FIELDS) out[f] = a[f] - b[f];
  return out;
}

/**
 * `into` += sign × `from`, in place, field by field: summaries run this for 10,000 clients a
 * few times each, and neither a new object nor a loop over the keys per call pays off there.
 */
export function accumulate(into: Totals, from: Totals, sign: 1 | -1 = 1): Totals {
  into.knownMs += sign * from.knownMs;
  into.upMs += sign * from.upMs;
  into.greenMs += sign * from.greenMs;
  into.yellowMs += sign * from.yellowMs;
  into.redMs += sign * from.redMs;
  into.greyMs += sign * from.greyMs;
  into.changes += sign * from.changes;
  into.bypassN += sign * from.bypassN;
  into.bypassMs += sign * from.bypassMs;
  into.dnsN += sign * from.dnsN;
  into.dnsMs += sign * from.dnsMs;
  into.ipv6N += sign * from.ipv6N;
  into.ipv6Ms += sign * from.ipv6Ms;
  into.exitN += sign * from.exitN;
  into.exitMs += sign * from.exitMs;
  into.offlineN += sign * from.offlineN;
  into.offlineMs += sign * from.offlineMs;
  into.recoveredN += sign * from.recoveredN;
  into.recoveredMs += sign * from.recoveredMs;
  return into;
}

export const incidentCount = (t: Totals, k: IncidentKind) => t[`${k}N`];
export const incidentMs = (t: Totals, k: IncidentKind) => t[`${k}Ms`];

export const NO_CARRY: RollupCarry = { redSince: null, open: {} };

type Span = { from: number; to: number };

/** Known length of [a, b) once the server's downtimes are taken out. */
function knownLength(a: number, b: number, downtimes: readonly Span[]): number {
  let length = b - a;
  for (const d of downtimes) length -= Math.max(0, Math.min(b, d.to) - Math.max(a, d.from));
  return Math.max(0, length);
}

const isKnown = (row: HistoryRow | null): row is HistoryRow => row !== null && row.liveness !== "never";

const NONE: ReadonlySet<IncidentKind> = new Set();
const OFFLINE: ReadonlySet<IncidentKind> = new Set(["offline"]);
/** Few distinct cause strings exist: each is split once. */
const kindsOfCauses = new Map<string, ReadonlySet<IncidentKind>>();

/** The incident kinds a row has on. Rows from before causes were kept only tell offline. */
function activeKinds(row: HistoryRow | null): ReadonlySet<IncidentKind> {
  if (!isKnown(row)) return NONE;
  if (row.causes === null || row.causes === undefined) return row.liveness === "offline" ? OFFLINE : NONE;
  let on = kindsOfCauses.get(row.causes);
  if (on === undefined) {
    const causes = row.causes === "" ? [] : row.causes.split(",");
    on = new Set(INCIDENT_KINDS.filter((k) => causes.includes(INCIDENT_CAUSE[k])));
    if (kindsOfCauses.size < 1000) kindsOfCauses.set(row.causes, on);
  }
  return on;
}

/** Rows sorted by time; the first may be the row in force before `start`. */
export interface FoldInput {
  rows: readonly HistoryRow[];
  downtimes: readonly Span[];
  /** where reading starts (a day boundary, or `from`) */
  start: number;
  /** the window counted, inside [start, to] */
  from: number;
  to: number;
  /**
   * what was going on at `start` (the day before's rollup); null: taken from the row in force
   * at `start`, whose stretches then count from that row's time (the best the rows can say).
   * A carry with its `last` row stands in for the row in force when `rows` has none.
   */
  carry: RollupCarry | null;
}

export interface FoldResult {
  totals: Totals;
  /** what is going on at `to` */
  carry: RollupCarry;
}

/** Cuts [start, to] into stretches of one row each (null: nothing known yet). */
function stretchesOf(rows: readonly HistoryRow[], start: number, to: number) {
  const out: { from: number; to: number; row: HistoryRow | null }[] = [];
  let cursor = start;
  let current: HistoryRow | null = null;
  for (const row of rows) {
    if (row.at <= start) {
      current = row;
      continue;
    }
    if (row.at >= to) break;
    if (row.at > cursor) out.push({ from: cursor, to: row.at, row: current });
    cursor = Math.max(cursor, row.at);
    current = row;
  }
  if (to > cursor) out.push({ from: cursor, to, row: current });
  return out;
}

/** The carry's last row as a history row (the fold only reads status, liveness and causes). */
const rowOf = (last: NonNullable<RollupCarry["last"]>): HistoryRow => ({
  ...last,
  exitIpv4: null,
  exitIpv6: null,
  resolvers: null,
});

export function fold(input: FoldInput): FoldResult {
  const { downtimes, start, from, to } = input;
  const last = input.carry?.last;
  const rows =
    last && !(input.rows[0] && input.rows[0].at <= start) ? [rowOf(last), ...input.rows] : input.rows;
  const totals = emptyTotals();
  const inWindow = (t: number) => t >= from && t < to;
  const pieces = stretchesOf(rows, start, to);
  const first = pieces[0]?.row ?? null;
  // what was on just before `start`
  let open: Partial<Record<IncidentKind, number>>;
  let redSince: number | null;
  let status: string | null;
  if (input.carry) {
    open = { ...input.carry.open };
    redSince = input.carry.redSince;
    status = input.carry.status ?? null;
  } else {
    open = {};
    for (const k of activeKinds(first)) open[k] = (first as HistoryRow).at;
    redSince = isKnown(first) && first.status === "red" ? first.at : null;
    status = isKnown(first) ? first.status : null;
  }

  for (const piece of pieces) {
    const { row } = piece;
    const at = piece.from;
    // transitions at the start of this piece
    const on = activeKinds(row);
    for (const k of INCIDENT_KINDS) {
      if (on.has(k) && open[k] === undefined) {
        open[k] = at;
        if (inWindow(at)) totals[`${k}N`]++;
      } else if (!on.has(k) && open[k] !== undefined) delete open[k];
    }
    const known = isKnown(row);
    const red = known && row.status === "red";
    if (red && redSince === null) redSince = at;
    else if (!red && known && redSince !== null) {
      if (inWindow(at)) {
        totals.recoveredN++;
        totals.recoveredMs += at - redSince;
      }
      redSince = null;
    }
    if (known && status !== null && row.status !== status && inWindow(at)) totals.changes++;
    if (known) status = row.status;

    // time inside the window
    const a = Math.max(piece.from, from);
    const b = Math.min(piece.to, to);
    if (!known || b <= a) continue;
    const ms = knownLength(a, b, downtimes);
    totals.knownMs += ms;
    if (row.liveness === "online" || row.liveness === "late") totals.upMs += ms;
    if (row.status === "green") totals.greenMs += ms;
    else if (row.status === "yellow") totals.yellowMs += ms;
    else if (row.status === "red") totals.redMs += ms;
    else totals.greyMs += ms;
    for (const k of on) totals[`${k}Ms`] += ms;
  }
  const final = pieces.at(-1)?.row ?? null;
  const lastRow = final
    ? { at: final.at, status: final.status, liveness: final.liveness, causes: final.causes ?? null }
    : null;
  return { totals, carry: { redSince, open, status, last: lastRow } };
}

export interface TimelineSegment {
  from: number;
  to: number;
  /** green, yellow, red, grey, or unknown */
  status: string;
  /**
   * cause codes while this stretch lasted ([] when green); an unknown stretch says why:
   * "not_seen" (before the first report) or "server_down"
   */
  causes: string[];
}

export const NOT_SEEN = "not_seen";
export const SERVER_DOWN = "server_down";

/**
 * Status segments over [from, to]: gap-free, merged where status and causes stay the same (an
 * exit that moves within a green stretch is one segment), unknown where nothing is known.
 */
export function timeline(
  rows: readonly HistoryRow[],
  downtimes: readonly Span[],
  from: number,
  to: number,
): TimelineSegment[] {
  const out: TimelineSegment[] = [];
  const push = (seg: TimelineSegment) => {
    if (seg.to <= seg.from) return;
    const last = out.at(-1);
    if (last && last.status === seg.status && last.causes.join() === seg.causes.join()) last.to = seg.to;
    else out.push(seg);
  };
  const down = [...downtimes].sort((a, b) => a.from - b.from);
  for (const piece of stretchesOf(rows, from, to)) {
    const row = isKnown(piece.row) ? piece.row : null;
    const status = row ? row.status : "unknown";
    const causes = row ? (row.causes ? row.causes.split(",") : []) : [NOT_SEEN];
    // the server's downtimes cut holes of unknown into the piece
    let cursor = piece.from;
    for (const d of down) {
      if (d.to <= cursor || d.from >= piece.to) continue;
      push({ from: cursor, to: Math.max(cursor, d.from), status, causes });
      push({
        from: Math.max(cursor, d.from),
        to: Math.min(piece.to, d.to),
        status: "unknown",
        causes: [SERVER_DOWN],
      });
      cursor = Math.min(piece.to, d.to);
    }
    push({ from: cursor, to: piece.to, status, causes });
  }
  return out;
}
