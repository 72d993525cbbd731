import { describe, expect, test } from "bun:test";
import { DEFAULT_SETTINGS, mutedUntil } from "../monitor/settings.ts";
import type { ClientRecord, HistoryRow } from "../store/index.ts";
import { ago, percent, span } from "./format.ts";
import {
  bars,
  clientRow,
  OVERVIEW_MAX_ROWS,
  overview,
  overviewQueryString,
  parseOverviewQuery,
  readPolicy,
} from "./model.ts";

const NOW = Date.parse("2026-11-26T12:00:00Z");

function client(over: Record<string, unknown> & { name: string }): ClientRecord {
  return {
    id: `c_${over.name}`,
    createdAt: NOW - 86_400_000,
    secretEnc: "x",
    prevSecretEnc: null,
    prevSecretUntil: null,
    settings: DEFAULT_SETTINGS,
    revision: 0,
    state: null,
    lastReport: null,
    lastSourceIp: null,
    lastReportAt: null,
    status: "grey",
    liveness: "never",
    lateAt: null,
    offlineAt: null,
    nextCheckAt: null,
    exit: null,
    ...over,
  } as ClientRecord;
}

/** The judged exit as the monitor stores it: in the state, and as the record's exit columns. */
const withExit = (ip: string, org: string, asn: number, country: string) => ({
  state: {
    version: 1,
    reason: "r",
    exit: { ipv4: { ip, org, asn, country, source: "database" }, ipv6: null },
  },
  exit: { ip, org, asn, country },
});

/** Full records stand in for summaries (a record is one); `load` and `flagged` find them. */
const overviewOf = (clients: ClientRecord[], q: Record<string, string>) =>
  overview(clients, NOW, parseOverviewQuery(q), {
    load: async (ids) => clients.filter((c) => ids.includes(c.id)),
    flagged: async (flag) =>
      clients
        .filter((c) => (flag === "paused" ? c.settings.paused : mutedUntil(c.settings, NOW) !== null))
        .map((c) => c.id),
  });

const CLIENTS = [
  client({
    name: "b-green",
    status: "green",
    liveness: "online",
    lastReportAt: NOW - 12_000,
    ...withExit("198.51.100.7", "VPN Co", 64501, "BR"),
  }),
  client({
    name: "a-red",
    status: "red",
    liveness: "online",
    lastReportAt: NOW - 5_000,
    ...withExit("203.0.113.7", "Home ISP", 64500, "PL"),
  }),
  client({ name: "c-offline", status: "red", liveness: "offline", lastReportAt: NOW - 600_000 }),
  client({ name: "d-never" }),
  client({
    name: "e-paused",
    status: "grey",
    liveness: "online",
    settings: { ...DEFAULT_SETTINGS, paused: true },
    lastReportAt: NOW - 1000,
  }),
];

describe("overview view model", () => {
  test("a large fleet shows the worst rows first, capped, and says how many matched", async () => {
    const many = Array.from({ length: OVERVIEW_MAX_ROWS + 50 }, (_, i) =>
      client({
        name: `n${String(i).padStart(4, "0")}`,
        status: i === OVERVIEW_MAX_ROWS + 40 ? "red" : "green",
      }),
    );
    const v = await overviewOf(many, {});
    expect(v.rows).toHaveLength(OVERVIEW_MAX_ROWS);
    expect(v.matched).toBe(OVERVIEW_MAX_ROWS + 50);
    expect(v.rows[0]?.status).toBe("red");
    expect(v.counts.total).toBe(OVERVIEW_MAX_ROWS + 50);
  });

  test("counts every status and sorts worst first, then by name", async () => {
    const v = await overviewOf(CLIENTS, {});
    expect(v.counts).toEqual({ red: 2, yellow: 0, green: 1, grey: 2, total: 5 });
    expect(v.rows.map((r) => r.name)).toEqual(["a-red", "c-offline", "d-never", "e-paused", "b-green"]);
  });

  test("status words never rely on colour: Exposed, Offline, Waiting, Paused, Protected", async () => {
    const words = Object.fromEntries(CLIENTS.map((c) => [c.name, clientRow(c, NOW).word]));
    expect(words).toEqual({
      "b-green": "Protected",
      "a-red": "Exposed",
      "c-offline": "Offline",
      "d-never": "Waiting",
      "e-paused": "Paused",
    });
    expect(clientRow(CLIENTS[0] as ClientRecord, NOW).lastSeen).toBe("12 s ago");
  });

  test("filters by status and searches name, address, organisation, country and ASN (with or without AS)", async () => {
    const names = async (q: Record<string, string>) => (await overviewOf(CLIENTS, q)).rows.map((r) => r.name);
    expect(await names({ status: "red" })).toEqual(["a-red", "c-offline"]);
    expect(await names({ q: "203.0.113" })).toEqual(["a-red"]);
    expect(await names({ q: "vpn co" })).toEqual(["b-green"]);
    expect(await names({ q: "AS64500" })).toEqual(["a-red"]);
    expect(await names({ q: "64501" })).toEqual(["b-green"]);
    expect(await names({ q: "br" })).toEqual(["b-green"]);
    expect((await names({ sort: "seen" }))[0]).toBe("e-paused");
    expect(await names({ sort: "name" })).toEqual(["a-red", "b-green", "c-offline", "d-never", "e-paused"]);
  });

  test("unknown query values fall back to defaults, and the query string round-trips", async () => {
    const q = parseOverviewQuery({ status: "purple", sort: "random", q: "  x  " });
    expect(q).toEqual({ q: "x", status: "all", sort: "status", check: "", flag: "" });
    expect(overviewQueryString(parseOverviewQuery({ status: "red", sort: "name", q: "a b" }))).toBe(
      "?q=a+b&status=red&sort=name",
    );
  });

  test("a mute counts only while it lasts", async () => {
    expect(readPolicy({ ...DEFAULT_SETTINGS, muted_until: NOW + 1 }, NOW).mutedUntil).toBe(NOW + 1);
    expect(readPolicy({ ...DEFAULT_SETTINGS, muted_until: NOW - 1 }, NOW).mutedUntil).toBeNull();
  });
});

describe("uptime bars from change-only history", () => {
  const row = (at: number, liveness: string, status: string): HistoryRow => ({
    at,
    liveness,
    status,
    exitIpv4: null,
    exitIpv6: null,
    resolvers: null,
  });

  test("half a day offline and an hour red show in the right buckets and totals", async () => {
    const from = NOW - 86_400_000;
    const h = {
      rows: [
        row(from - 1000, "online", "green"),
        row(from + 12 * 3_600_000, "offline", "red"),
        row(NOW - 6 * 3_600_000, "online", "red"),
        row(NOW - 5 * 3_600_000, "online", "green"),
      ],
      downtimes: [],
    };
    const b = bars("24 h", h, { from, to: NOW }, 24);
    expect(b.up).toBeCloseTo(18 / 24, 5);
    expect(b.protected).toBeCloseTo(17 / 24, 5);
    expect(b.buckets[0]?.up).toBe(1);
    expect(b.buckets[12]?.up).toBe(0);
    expect(b.buckets[18]).toMatchObject({ up: 1, protected: 0 });
    expect(b.buckets[23]).toMatchObject({ up: 1, protected: 1 });
  });

  test("before the first report and while the server was down nothing is known", async () => {
    const from = NOW - 86_400_000;
    const h = {
      rows: [row(NOW - 3_600_000, "online", "green")],
      downtimes: [{ from: NOW - 1_800_000, to: NOW - 900_000 }],
    };
    const b = bars("24 h", h, { from, to: NOW }, 24);
    expect(b.buckets[0]?.up).toBeNull();
    expect(b.up).toBe(1);
  });
});

describe("formatting", () => {
  test("relative times, spans and percentages read naturally", async () => {
    expect(ago(null, NOW)).toBe("never");
    expect(ago(NOW - 500, NOW)).toBe("just now");
    expect(ago(NOW - 12_000, NOW)).toBe("12 s ago");
    expect(ago(NOW - 3 * 3_600_000, NOW)).toBe("3 h ago");
    expect(span(3_900_000)).toBe("1 h 5 min");
    expect(span(2 * 86_400_000 + 4 * 3_600_000)).toBe("2 d 4 h");
    expect(percent(1)).toBe("100 %");
    expect(percent(0.9876)).toBe("98.7 %");
    expect(percent(null)).toBe("no data");
  });
});
