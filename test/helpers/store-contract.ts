/**
 * The store contract: what every engine of the port (src/server/store/types.ts) must do, as
 * STORE.md describes it. `describeStore(name, target)` runs the same tests against one engine;
 * test/store-contract.test.ts runs them against SQLite and, when SENTINEL_TEST_POSTGRES is set,
 * PostgreSQL. An engine passes when it gives the same answers, not when it uses the same SQL.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { ReportV1 } from "../../src/protocol/report.ts";
import { DEFAULT_SETTINGS } from "../../src/server/monitor/settings.ts";
import type { ClientState } from "../../src/server/monitor/types.ts";
import { reportCommit } from "../../src/server/store/index.ts";
import type {
  ChangeMessages,
  ChangeTopic,
  ClientRecord,
  ClientUpdate,
  HistoryRow,
  NewOutboxRow,
  Store,
  Transaction,
} from "../../src/server/store/types.ts";

export interface ContractTarget {
  /** A fresh, empty store. */
  open(): Promise<Store>;
  /** Several stores on one fresh database (other processes, or replicas); `close` ends them all. */
  openShared(count: number): Promise<{ stores: Store[]; close(): Promise<void> }>;
  /** Several replicas compete for leadership (PostgreSQL); SQLite's one process always leads. */
  replicas: boolean;
  /** Ends the database session of the replica that leads (what a crashed machine or a network cut does). */
  killLeaderSession?(store: Store): Promise<void>;
  /**
   * Known disagreements of this engine with the contract, by test name: they run as
   * `test.failing`, so fixing the engine turns them red until the entry goes.
   */
  knownBugs?: ReadonlySet<string>;
}

/** countRecent with nothing to exclude counts every kind. */
export const COUNT_RECENT_NO_EXCLUDES = "countRecent with no kinds to exclude counts every kind";

const T0 = 1_800_000_000_000; // a fixed "now", far from any boundary

const state = (tag: string) =>
  ({
    tag,
    verdicts: { bypass: { status: "ok" } },
    nested: { list: [1, 2.5, "x", null, true] },
  }) as unknown as ClientState;
const report = (tag: string) =>
  ({ v: 1, observed_at: "2027-01-15T08:00:00.000Z", interval_s: 30, ipv4: { tag } }) as unknown as ReportV1;

function update(over: Partial<ClientUpdate> = {}): ClientUpdate {
  return {
    state: state("s1"),
    lastReport: report("r1"),
    exit: { ip: "198.51.100.7", country: "NL", asn: 4_200_000_001, org: "Example Org" },
    lastSourceIp: "203.0.113.9",
    lastReportAt: T0,
    lastObservedAt: T0 - 500,
    status: "green",
    liveness: "online",
    lateAt: T0 + 45_000,
    offlineAt: T0 + 90_000,
    nextCheckAt: T0 + 45_000,
    ...over,
  };
}

const history = (over: Partial<HistoryRow> = {}): HistoryRow => ({
  at: T0,
  status: "green",
  liveness: "online",
  exitIpv4: "198.51.100.7",
  exitIpv6: null,
  resolvers: "192.0.2.53",
  ...over,
});

function outboxRow(over: Partial<NewOutboxRow> = {}): NewOutboxRow {
  return {
    eventId: null,
    clientId: "c1",
    kind: "bypass",
    channel: "telegram",
    target: "chat-1",
    idempotencyKey: crypto.randomUUID(),
    payload: { text: "hello", parts: ["a", "b"] },
    status: "pending",
    nextAttemptAt: T0,
    createdAt: T0,
    ...over,
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

export function describeStore(name: string, target: ContractTarget): void {
  describe(`store contract: ${name}`, () => {
    const open: Store[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    const fresh = async () => {
      const s = await target.open();
      open.push(s);
      return s;
    };
    const withClient = async (id = "c1", clientName = "Alpha") => {
      const s = await fresh();
      await s.clients.create({ id, name: clientName, createdAt: T0, secretEnc: `sealed:${id}` });
      return s;
    };

    describe("clients", () => {
      test("a new client reads back with defaults, revision 0 and every time as a number", async () => {
        const s = await withClient();
        const c = await s.clients.get("c1");
        expect(c).toEqual({
          id: "c1",
          name: "Alpha",
          status: "grey",
          liveness: "never",
          lastReportAt: null,
          exit: null,
          statusSince: null,
          causes: [],
          createdAt: T0,
          origin: "enrolled",
          secretEnc: "sealed:c1",
          prevSecretEnc: null,
          prevSecretUntil: null,
          settings: { ...DEFAULT_SETTINGS },
          state: null,
          lastReport: null,
          lastSourceIp: null,
          lastObservedAt: null,
          lateAt: null,
          offlineAt: null,
          nextCheckAt: null,
          revision: 0,
        });
        expect(typeof c?.createdAt).toBe("number");
        expect(await s.clients.get("nobody")).toBeNull();
        await s.clients.create({
          id: "c2",
          name: "Keepalive",
          createdAt: T0,
          secretEnc: "x",
          origin: "legacy",
        });
        expect((await s.clients.get("c2"))?.origin).toBe("legacy");
      });

      test("names are unique and found without regard to case", async () => {
        const s = await withClient("c1", "Alpha");
        expect((await s.clients.getByName("ALPHA"))?.id).toBe("c1");
        expect((await s.clients.getByName("alpha"))?.id).toBe("c1");
        expect(await s.clients.getByName("alph")).toBeNull();
        await expect(
          s.clients.create({ id: "c2", name: "aLPHA", createdAt: T0, secretEnc: "x" }),
        ).rejects.toThrow();
        expect((await s.clients.list()).length).toBe(1);
      });

      test("list, summaries and page order by name case-insensitively (ASCII folding, byte order)", async () => {
        const s = await fresh();
        const names = ["bravo", "Alpha", "charlie", "alpha2", "Émile", "zed", "émile", "Delta"];
        for (const [i, n] of names.entries())
          await s.clients.create({ id: `c${i}`, name: n, createdAt: T0 + i, secretEnc: "x" });
        const expected = ["Alpha", "alpha2", "bravo", "charlie", "Delta", "zed", "Émile", "émile"];
        expect((await s.clients.list()).map((c) => c.name)).toEqual(expected);
        expect((await s.clients.summaries()).map((c) => c.name)).toEqual(expected);
        const pages: string[][] = [];
        let after: string | null = null;
        for (;;) {
          const page = await s.clients.page(after, 3);
          if (page.length === 0) break;
          pages.push(page.map((c) => c.name));
          after = page.at(-1)?.name ?? null;
        }
        expect(pages).toEqual([expected.slice(0, 3), expected.slice(3, 6), expected.slice(6)]);
        // a cursor in another case continues at the same place
        expect((await s.clients.page("ALPHA2", 1)).map((c) => c.name)).toEqual(["bravo"]);
      });

      test("a judged report is stored in one go: state, report, exit, liveness, revision + 1", async () => {
        const s = await withClient();
        await s.clients.applyReport("c1", update());
        const c = await s.clients.get("c1");
        expect(c).toMatchObject({
          status: "green",
          liveness: "online",
          lastReportAt: T0,
          lastObservedAt: T0 - 500,
          lastSourceIp: "203.0.113.9",
          lateAt: T0 + 45_000,
          offlineAt: T0 + 90_000,
          nextCheckAt: T0 + 45_000,
          exit: { ip: "198.51.100.7", country: "NL", asn: 4_200_000_001, org: "Example Org" },
          revision: 1,
        });
        expect(c?.state).toEqual(state("s1"));
        expect(c?.lastReport).toEqual(report("r1"));
        await s.clients.applyReport("c1", update({ state: state("s2"), exit: null, status: "red" }));
        const again = await s.clients.get("c1");
        expect(again?.revision).toBe(2);
        expect(again?.state).toEqual(state("s2"));
        expect(again?.exit).toBeNull();
        const [summary] = await s.clients.summaries();
        expect(summary).toEqual({
          id: "c1",
          name: "Alpha",
          status: "red",
          liveness: "online",
          lastReportAt: T0,
          exit: null,
          statusSince: T0,
          causes: [],
        });
      });

      test("statusSince moves only when the status changes (report or sweep); causes are replaced each time", async () => {
        const s = await withClient();
        const since = async () => {
          const c = await s.clients.get("c1");
          const [summary] = await s.clients.summaries();
          expect(summary).toMatchObject({ statusSince: c?.statusSince, causes: c?.causes });
          return [c?.statusSince, c?.causes];
        };
        await s.clients.applyReport("c1", update({ status: "green", lastReportAt: T0 }));
        expect(await since()).toEqual([T0, []]);
        await s.clients.applyReport("c1", update({ status: "green", lastReportAt: T0 + 30_000, causes: [] }));
        expect(await since()).toEqual([T0, []]);
        const leak = ["bypass:leak", "dns:leak"];
        await s.clients.applyReport("c1", update({ status: "red", lastReportAt: T0 + 60_000, causes: leak }));
        expect(await since()).toEqual([T0 + 60_000, leak]);
        const sweep = {
          state: null,
          lateAt: T0 + 90_000,
          offlineAt: T0 + 120_000,
          nextCheckAt: T0 + 120_000,
        };
        expect(
          await s.clients.casState(
            "c1",
            { liveness: "online", lastReportAt: T0 + 60_000 },
            { ...sweep, status: "red", liveness: "late", causes: ["bypass:leak", "late"], at: T0 + 90_000 },
          ),
        ).toBe(true);
        expect(await since()).toEqual([T0 + 60_000, ["bypass:leak", "late"]]);
        expect(
          await s.clients.casState(
            "c1",
            { liveness: "late", lastReportAt: T0 + 60_000 },
            { ...sweep, status: "grey", liveness: "offline", causes: ["offline"], at: T0 + 120_000 },
          ),
        ).toBe(true);
        expect(await since()).toEqual([T0 + 120_000, ["offline"]]);
      });

      test("withFlag: the clients whose settings say paused, or muted at that time", async () => {
        const s = await withClient("c1", "Alpha");
        await s.clients.create({ id: "c2", name: "Beta", createdAt: T0, secretEnc: "x" });
        await s.clients.create({ id: "c3", name: "Gamma", createdAt: T0, secretEnc: "x" });
        await s.clients.updateSettings("c1", { ...DEFAULT_SETTINGS, paused: true });
        await s.clients.updateSettings("c2", { ...DEFAULT_SETTINGS, muted_until: T0 + 1_000 });
        expect(await s.clients.withFlag("paused", T0)).toEqual(["c1"]);
        expect(await s.clients.withFlag("muted", T0)).toEqual(["c2"]);
        expect(await s.clients.withFlag("muted", T0 + 1_000)).toEqual([]);
      });

      test("a heartbeat moves only the liveness columns (no revision, no state)", async () => {
        const s = await withClient();
        await s.clients.applyReport("c1", update());
        await s.clients.heartbeat("c1", {
          lastSourceIp: "203.0.113.10",
          lastReportAt: T0 + 30_000,
          lastObservedAt: T0 + 29_000,
          lateAt: T0 + 75_000,
          offlineAt: T0 + 120_000,
          nextCheckAt: T0 + 75_000,
        });
        const c = await s.clients.get("c1");
        expect(c).toMatchObject({
          lastSourceIp: "203.0.113.10",
          lastReportAt: T0 + 30_000,
          lastObservedAt: T0 + 29_000,
          lateAt: T0 + 75_000,
          offlineAt: T0 + 120_000,
          nextCheckAt: T0 + 75_000,
          status: "green",
          liveness: "online",
          revision: 1,
        });
        expect(c?.state).toEqual(state("s1"));
      });

      test("settings and secrets change without touching the revision", async () => {
        const s = await withClient();
        const settings = {
          ...DEFAULT_SETTINGS,
          interval_s: 60,
          expected_asn: 4_200_000_001,
          dns_allow_asns: [13335],
        };
        await s.clients.updateSettings("c1", settings);
        await s.clients.rotateSecret("c1", "sealed:new", T0 + 3_600_000);
        const c = await s.clients.get("c1");
        expect(c?.settings).toEqual(settings);
        expect(c).toMatchObject({
          secretEnc: "sealed:new",
          prevSecretEnc: "sealed:c1",
          prevSecretUntil: T0 + 3_600_000,
          revision: 0,
        });
        await s.clients.create({ id: "c2", name: "Bravo", createdAt: T0, secretEnc: "sealed:c2" });
        expect(await s.clients.reencryptSecrets((enc) => `re(${enc})`)).toBe(2);
        expect(await s.clients.get("c1")).toMatchObject({
          secretEnc: "re(sealed:new)",
          prevSecretEnc: "re(sealed:c1)",
        });
        expect(await s.clients.get("c2")).toMatchObject({ secretEnc: "re(sealed:c2)", prevSecretEnc: null });
      });

      test("withStatus, countByStatus and getMany", async () => {
        const s = await fresh();
        for (const [i, status] of ["green", "red", "red", "grey"].entries()) {
          await s.clients.create({ id: `c${i}`, name: `n${i}`, createdAt: T0, secretEnc: "x" });
          if (status !== "grey") await s.clients.applyReport(`c${i}`, update({ status }));
        }
        expect((await s.clients.withStatus("red")).map((c) => c.id).sort()).toEqual(["c1", "c2"]);
        expect(await s.clients.withStatus("yellow")).toEqual([]);
        expect(await s.clients.countByStatus()).toEqual({ green: 1, red: 2, grey: 1 });
        expect((await s.clients.getMany(["c3", "nobody", "c0"])).map((c) => c.id).sort()).toEqual([
          "c0",
          "c3",
        ]);
        expect(await s.clients.getMany([])).toEqual([]);
      });

      test("dueForSweep: next_check_at at or before now, earliest first, limited", async () => {
        const s = await fresh();
        for (const [i, next] of [T0 + 5, T0 - 10, null, T0 + 100, T0].entries()) {
          await s.clients.create({ id: `c${i}`, name: `n${i}`, createdAt: T0, secretEnc: "x" });
          await s.clients.applyReport(`c${i}`, update({ nextCheckAt: next }));
        }
        expect((await s.clients.dueForSweep(T0 + 5, 10)).map((c) => c.id)).toEqual(["c1", "c4", "c0"]);
        expect((await s.clients.dueForSweep(T0 + 5, 2)).map((c) => c.id)).toEqual(["c1", "c4"]);
        expect(await s.stats.oldestDueCheck(T0 + 5)).toBe(T0 - 10);
        expect(await s.stats.oldestDueCheck(T0 - 11)).toBeNull();
      });

      test("casState flips only when liveness and last report time are still as read", async () => {
        const s = await withClient();
        const next = {
          state: state("late"),
          status: "yellow",
          liveness: "late",
          lateAt: T0 + 45_000,
          offlineAt: T0 + 90_000,
          nextCheckAt: T0 + 90_000,
          causes: ["late"],
          at: T0 + 45_000,
        };
        // never reported: last_report_at is null, and null matches null
        expect(
          await s.clients.casState("c1", { liveness: "never", lastReportAt: null }, { ...next, state: null }),
        ).toBe(true);
        expect((await s.clients.get("c1"))?.revision).toBe(1);
        await s.clients.applyReport("c1", update());
        expect(await s.clients.casState("c1", { liveness: "online", lastReportAt: T0 - 1 }, next)).toBe(
          false,
        );
        expect(await s.clients.casState("c1", { liveness: "late", lastReportAt: T0 }, next)).toBe(false);
        expect(await s.clients.casState("c1", { liveness: "online", lastReportAt: null }, next)).toBe(false);
        expect((await s.clients.get("c1"))?.revision).toBe(2);
        expect(await s.clients.casState("c1", { liveness: "online", lastReportAt: T0 }, next)).toBe(true);
        const c = await s.clients.get("c1");
        expect(c).toMatchObject({
          liveness: "late",
          status: "yellow",
          nextCheckAt: T0 + 90_000,
          revision: 3,
        });
        expect(c?.state).toEqual(state("late"));
        // the second of two sweepers that read the same row loses
        expect(await s.clients.casState("c1", { liveness: "online", lastReportAt: T0 }, next)).toBe(false);
        // a null state keeps the stored one
        expect(
          await s.clients.casState(
            "c1",
            { liveness: "late", lastReportAt: T0 },
            { ...next, liveness: "offline", state: null },
          ),
        ).toBe(true);
        expect((await s.clients.get("c1"))?.state).toEqual(state("late"));
        expect(await s.clients.casState("nobody", { liveness: "never", lastReportAt: null }, next)).toBe(
          false,
        );
      });

      test("remove deletes the client and its state", async () => {
        const s = await withClient();
        await s.clients.applyReport("c1", update());
        expect(await s.clients.remove("c1")).toBe(true);
        expect(await s.clients.remove("c1")).toBe(false);
        expect(await s.clients.get("c1")).toBeNull();
        // the name is free again, and no old state comes back with it
        await s.clients.create({ id: "c1", name: "alpha", createdAt: T0, secretEnc: "x" });
        expect((await s.clients.get("c1"))?.state).toBeNull();
      });

      /**
       * Two transactions lock c1 with `lock`: the second reads the row only after the first,
       * which wrote to it while holding the lock, committed. Resolves to the revisions they saw.
       */
      const lockedInTurn = async (
        s: Store,
        lock: (tx: Transaction) => Promise<{ revision: number } | null>,
      ): Promise<[number | undefined, number | undefined]> => {
        let firstHasLock!: () => void;
        const locked = new Promise<void>((r) => {
          firstHasLock = r;
        });
        const first = s.transaction(async (tx) => {
          const seen = (await lock(tx))?.revision;
          firstHasLock();
          await Bun.sleep(150);
          await tx.clients.applyReport("c1", update());
          return seen;
        });
        await locked;
        const second = s.transaction(async (tx) => (await lock(tx))?.revision);
        return [await first, await second];
      };

      test("getForUpdate: a second transaction reads the row only after the first committed", async () => {
        const s = await withClient();
        expect(await lockedInTurn(s, (tx) => tx.clients.getForUpdate("c1"))).toEqual([0, 1]);
        expect(await s.transaction((tx) => tx.clients.getForUpdate("nobody"))).toBeNull();
      });

      test("lockColumns: the record's columns without state or last report, locked like getForUpdate", async () => {
        const s = await withClient();
        await s.clients.applyReport("c1", update());
        const whole = await s.clients.get("c1");
        const { state: _state, lastReport: _lastReport, ...columns } = whole as ClientRecord;
        expect(await s.transaction((tx) => tx.clients.lockColumns("c1"))).toEqual(columns);
        expect(await s.transaction((tx) => tx.clients.lockColumns("nobody"))).toBeNull();
        expect(await lockedInTurn(s, (tx) => tx.clients.lockColumns("c1"))).toEqual([1, 2]);
      });
    });

    describe("transactions", () => {
      test("commit when fn resolves (with its value), roll back and rethrow when it throws", async () => {
        const s = await fresh();
        expect(
          await s.transaction(async (tx) => {
            await tx.meta.set("a", "1");
            return 42;
          }),
        ).toBe(42);
        const boom = new Error("boom");
        await expect(
          s.transaction(async (tx) => {
            await tx.meta.set("a", "2");
            await tx.meta.set("b", "2");
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await s.meta.get("a")).toBe("1");
        expect(await s.meta.get("b")).toBeNull();
      });

      test("a nested transaction that fails rolls back only its own writes", async () => {
        const s = await fresh();
        await s.transaction(async (tx) => {
          await tx.meta.set("outer", "1");
          await expect(
            tx.transaction(async (inner) => {
              await inner.meta.set("inner", "1");
              await inner.meta.set("outer", "changed");
              throw new Error("inner");
            }),
          ).rejects.toThrow("inner");
          expect(await tx.meta.get("outer")).toBe("1");
          expect(await tx.meta.get("inner")).toBeNull();
          expect(
            await tx.transaction(async (inner) => {
              await inner.meta.set("kept", "1");
              return "v";
            }),
          ).toBe("v");
          // nested twice
          await tx.transaction(async (inner) => {
            await inner.meta.set("two", "1");
            await expect(
              inner.transaction(async (innermost) => {
                await innermost.meta.set("three", "1");
                throw new Error("innermost");
              }),
            ).rejects.toThrow("innermost");
          });
        });
        expect(await s.meta.get("outer")).toBe("1");
        expect(await s.meta.get("inner")).toBeNull();
        expect(await s.meta.get("kept")).toBe("1");
        expect(await s.meta.get("two")).toBe("1");
        expect(await s.meta.get("three")).toBeNull();
      });

      test("an outer failure undoes nested writes that had succeeded", async () => {
        const s = await fresh();
        await expect(
          s.transaction(async (tx) => {
            await tx.transaction(async (inner) => inner.meta.set("nested", "1"));
            throw new Error("outer");
          }),
        ).rejects.toThrow("outer");
        expect(await s.meta.get("nested")).toBeNull();
      });

      test("afterCommit runs once the outermost transaction committed, with the data visible", async () => {
        const s = await fresh();
        const seen: (string | null)[] = [];
        const order: string[] = [];
        await s.transaction(async (tx) => {
          await tx.meta.set("k", "v");
          tx.afterCommit(() => {
            order.push("outer");
            void s.meta.get("k").then((v) => seen.push(v));
          });
          await tx.transaction(async (inner) => {
            inner.afterCommit(() => order.push("inner"));
          });
          tx.afterCommit(() => {
            throw new Error("a failing announcement does not fail the commit");
          });
          tx.afterCommit(() => order.push("last"));
          expect(order).toEqual([]);
        });
        expect(order).toEqual(["outer", "inner", "last"]);
        await waitFor(() => seen.length === 1, 1_000, "the callback's read");
        expect(seen).toEqual(["v"]);
      });

      test("afterCommit never runs for what rolled back: the transaction, or only a savepoint", async () => {
        const s = await fresh();
        const ran: string[] = [];
        await expect(
          s.transaction(async (tx) => {
            tx.afterCommit(() => ran.push("rolled back"));
            throw new Error("no");
          }),
        ).rejects.toThrow("no");
        await s.transaction(async (tx) => {
          tx.afterCommit(() => ran.push("kept before"));
          await expect(
            tx.transaction(async (inner) => {
              inner.afterCommit(() => ran.push("savepoint"));
              await inner.transaction(async (innermost) =>
                innermost.afterCommit(() => ran.push("innermost")),
              );
              throw new Error("inner");
            }),
          ).rejects.toThrow("inner");
          tx.afterCommit(() => ran.push("kept after"));
        });
        expect(ran).toEqual(["kept before", "kept after"]);
      });

      test("every repository writes inside a transaction and is undone with it", async () => {
        const s = await withClient();
        await expect(
          s.transaction(async (tx) => {
            await tx.clients.applyReport("c1", update());
            await tx.events.append({
              clientId: "c1",
              kind: "bypass",
              from: "green",
              to: "red",
              evidence: {},
              at: T0,
              suppressed: false,
            });
            await tx.history.record("c1", history());
            await tx.outbox.insert(outboxRow());
            await tx.tokens.create({
              id: "t1",
              name: "ci",
              role: "admin",
              tokenHash: "h1",
              createdAt: T0,
              lastUsedAt: null,
              revokedAt: null,
            });
            await tx.auth.audit({
              at: T0,
              actor: "cli",
              action: "x",
              target: null,
              detail: {},
              sourceIp: null,
            });
            throw new Error("undo");
          }),
        ).rejects.toThrow("undo");
        expect((await s.clients.get("c1"))?.revision).toBe(0);
        expect(await s.events.count()).toBe(0);
        expect(await s.history.range("c1", 0, T0 * 2)).toEqual([]);
        expect(await s.outbox.list({ limit: 10 })).toEqual([]);
        expect(await s.tokens.list()).toEqual([]);
        expect(await s.auth.listAudit({ limit: 10 })).toEqual([]);
      });
    });

    describe("report commits (reportCommit: reports committed together)", () => {
      const beat = (at: number) => ({
        lastSourceIp: "203.0.113.9",
        lastReportAt: at,
        lastObservedAt: at - 100,
        lateAt: at + 45_000,
        offlineAt: at + 90_000,
        nextCheckAt: at + 45_000,
      });
      /** An unchanged report's unit of work, as the monitor does it on PostgreSQL. */
      const unchangedReport =
        (id: string, nonce: string, at: number, announced: string[]) => async (tx: Transaction) => {
          if (!(await tx.nonces.use(id, nonce, T0 + 60_000, T0))) return "replayed";
          const client = await tx.clients.lockColumns(id);
          if (!client) throw new Error(`no client ${id}`);
          await tx.clients.heartbeat(id, beat(at));
          tx.afterCommit(() => announced.push(id));
          return "stored";
        };
      const clients = async (s: Store, n: number) => {
        const ids = Array.from({ length: n }, (_, i) => `c${i}`);
        for (const id of ids) await s.clients.create({ id, name: id, createdAt: T0, secretEnc: "x" });
        return ids;
      };

      test("reports made at once are each stored, and announced only after the commit", async () => {
        const s = await fresh();
        const ids = await clients(s, 40);
        const commit = reportCommit(s);
        const announced: string[] = [];
        const results = await Promise.all(
          ids.map((id, i) => commit(unchangedReport(id, "n1", T0 + i, announced))),
        );
        expect(results).toEqual(ids.map(() => "stored"));
        expect(announced.sort()).toEqual([...ids].sort());
        for (const c of await s.clients.getMany(ids)) expect(c.lastReportAt).toBe(T0 + ids.indexOf(c.id));
        // the nonces are burnt
        for (const id of ids) expect(await s.nonces.use(id, "n1", T0 + 60_000, T0)).toBe(false);
      });

      test("a nonce used twice in one batch is accepted once", async () => {
        const s = await fresh();
        await clients(s, 1);
        const commit = reportCommit(s);
        const announced: string[] = [];
        const results = await Promise.all([
          commit(unchangedReport("c0", "same", T0, announced)),
          commit(unchangedReport("c0", "same", T0 + 1, announced)),
          commit(unchangedReport("c0", "other", T0 + 2, announced)),
        ]);
        expect(results.filter((r) => r === "stored")).toHaveLength(2);
        expect(results.filter((r) => r === "replayed")).toHaveLength(1);
        expect(results[2]).toBe("stored");
      });

      test("a report that fails leaves nothing behind and its neighbours are stored", async () => {
        const s = await fresh();
        await clients(s, 3);
        const commit = reportCommit(s);
        const announced: string[] = [];
        const failing = commit(async (tx) => {
          expect(await tx.nonces.use("c1", "n1", T0 + 60_000, T0)).toBe(true);
          await tx.clients.getForUpdate("c1");
          tx.afterCommit(() => announced.push("c1"));
          // a unit is atomic by itself: its writes in one savepoint
          await tx.transaction(async (inner) => {
            await inner.clients.heartbeat("c1", beat(T0 + 1));
            await inner.clients.applyReport("c1", update());
            throw new Error("judging failed");
          });
        });
        const [first, , last] = await Promise.allSettled([
          commit(unchangedReport("c0", "n1", T0, announced)),
          failing,
          commit(unchangedReport("c2", "n1", T0 + 2, announced)),
        ]);
        expect(first).toEqual({ status: "fulfilled", value: "stored" });
        expect(last).toEqual({ status: "fulfilled", value: "stored" });
        await expect(failing).rejects.toThrow("judging failed");
        expect(announced.sort()).toEqual(["c0", "c2"]);
        const c1 = await s.clients.get("c1");
        expect([c1?.lastReportAt, c1?.revision, c1?.state]).toEqual([null, 0, null]);
        expect((await s.clients.get("c2"))?.lastReportAt).toBe(T0 + 2);
        // its nonce was not burnt: the report can be sent again
        expect(await s.nonces.use("c1", "n1", T0 + 60_000, T0)).toBe(true);
      });

      test("two reports of one client in a batch: the second sees what the first wrote", async () => {
        const s = await fresh();
        await clients(s, 1);
        const commit = reportCommit(s);
        const seen: number[] = [];
        const judge = (nonce: string) =>
          commit(async (tx) => {
            if (!(await tx.nonces.use("c0", nonce, T0 + 60_000, T0))) return;
            const c = await tx.clients.getForUpdate("c0");
            seen.push(c?.revision ?? -1);
            await tx.transaction((inner) => inner.clients.applyReport("c0", update()));
          });
        await Promise.all([judge("n1"), judge("n2")]);
        expect(seen).toEqual([0, 1]);
        expect((await s.clients.get("c0"))?.revision).toBe(2);
      });

      test("whole records and columns locked in one batch: each caller gets what it asked for", async () => {
        const s = await fresh();
        await clients(s, 4);
        for (const id of ["c0", "c1", "c2", "c3"]) await s.clients.applyReport(id, update());
        const commit = reportCommit(s);
        const [wholeA, columnsA, wholeB, columnsB] = await Promise.all(
          ["c0", "c1", "c2", "c3"].map((id, i) =>
            commit((tx) => (i % 2 === 0 ? tx.clients.getForUpdate(id) : tx.clients.lockColumns(id))),
          ),
        );
        for (const whole of [wholeA, wholeB]) {
          expect(whole?.revision).toBe(1);
          expect((whole as ClientRecord).state).toEqual(update().state);
          expect((whole as ClientRecord).lastReport).not.toBeNull();
        }
        for (const columns of [columnsA, columnsB]) {
          expect(columns?.revision).toBe(1);
          expect(columns && "state" in columns).toBe(false);
          expect(columns && "lastReport" in columns).toBe(false);
        }
        // two reports of one client: the second locks after the first ended, and sees its write
        const seen: number[] = [];
        await Promise.all(
          ["n1", "n2"].map((nonce, i) =>
            commit(async (tx) => {
              if (!(await tx.nonces.use("c1", nonce, T0 + 60_000, T0))) return;
              const c = i === 0 ? await tx.clients.lockColumns("c1") : await tx.clients.getForUpdate("c1");
              seen.push(c?.revision ?? -1);
              await tx.transaction((inner) => inner.clients.applyReport("c1", update()));
            }),
          ),
        );
        expect(seen).toEqual([1, 2]);
      });
    });

    describe("nonces and rate limits", () => {
      test("a nonce is accepted once; the same nonce of another client is another nonce", async () => {
        const s = await fresh();
        expect(await s.nonces.use("c1", "n1", T0 + 60_000, T0)).toBe(true);
        expect(await s.nonces.use("c1", "n1", T0 + 60_000, T0 + 1)).toBe(false);
        expect(await s.nonces.use("c2", "n1", T0 + 60_000, T0)).toBe(true);
        expect(await s.nonces.use("c1", "n2", T0 + 60_000, T0)).toBe(true);
      });

      test("a use in a transaction that rolls back is forgotten; a committed one is not", async () => {
        const s = await fresh();
        await expect(
          s.transaction(async (tx) => {
            expect(await tx.nonces.use("c1", "n1", T0 + 60_000, T0)).toBe(true);
            expect(await tx.nonces.use("c1", "n1", T0 + 60_000, T0)).toBe(false);
            throw new Error("report not stored");
          }),
        ).rejects.toThrow("report not stored");
        await s.transaction(async (tx) => {
          expect(await tx.nonces.use("c1", "n1", T0 + 60_000, T0)).toBe(true);
          // a savepoint that rolls back forgets its uses, and only its own
          await expect(
            tx.transaction(async (inner) => {
              expect(await inner.nonces.use("c1", "n2", T0 + 60_000, T0)).toBe(true);
              throw new Error("inner");
            }),
          ).rejects.toThrow("inner");
          expect(await tx.nonces.use("c1", "n2", T0 + 60_000, T0)).toBe(true);
        });
        expect(await s.nonces.use("c1", "n1", T0 + 60_000, T0)).toBe(false);
        expect(await s.nonces.use("c1", "n2", T0 + 60_000, T0)).toBe(false);
      });

      test("prune forgets expired nonces, which can then be used again", async () => {
        const s = await fresh();
        expect(await s.nonces.use("c1", "old", T0 + 1_000, T0)).toBe(true);
        expect(await s.nonces.use("c1", "live", T0 + 120_000, T0)).toBe(true);
        expect(await s.nonces.prune(T0 + 60_000)).toBeGreaterThanOrEqual(1);
        expect(await s.nonces.use("c1", "old", T0 + 120_000, T0 + 60_000)).toBe(true);
        expect(await s.nonces.use("c1", "live", T0 + 180_000, T0 + 60_000)).toBe(false);
      });

      test("a token bucket: burst at once, then the rate; keys and buckets apart", async () => {
        const s = await fresh();
        const take = (key: string, now: number, bucket = "report") => s.limits.take(bucket, key, 2, 3, now);
        expect([await take("k", T0), await take("k", T0), await take("k", T0)]).toEqual([0, 0, 0]);
        expect(await take("k", T0)).toBeCloseTo(0.5, 5);
        expect(await take("other", T0)).toBe(0);
        expect(await take("k", T0, "login")).toBe(0);
        expect(await take("k", T0 + 250)).toBeCloseTo(0.25, 5);
        expect(await take("k", T0 + 500)).toBe(0);
        expect(await take("k", T0 + 500)).toBeCloseTo(0.5, 5);
        // long idle: full again, never more than the burst
        expect([
          await take("k", T0 + 60_000),
          await take("k", T0 + 60_000),
          await take("k", T0 + 60_000),
        ]).toEqual([0, 0, 0]);
        expect(await take("k", T0 + 60_000)).toBeGreaterThan(0);
      });
    });

    describe("events and history", () => {
      test("append and query: newest first, by client, kinds, since and id cursor", async () => {
        const s = await fresh();
        const ids: number[] = [];
        for (const [i, [client, kind]] of [
          ["c1", "bypass"],
          ["c2", "offline"],
          ["c1", "dns_leak"],
          [null, "server_restart"],
          ["c1", "offline"],
        ].entries())
          ids.push(
            await s.events.append({
              clientId: client ?? null,
              kind: kind as string,
              from: i % 2 ? "green" : null,
              to: "red",
              evidence: { i, detail: { list: [i] } },
              at: T0 + i * 1000,
              suppressed: i === 2,
            }),
          );
        expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number))).toBe(true);
        expect(await s.events.count()).toBe(5);
        const all = await s.events.query({ limit: 10 });
        expect(all.map((e) => e.id)).toEqual([...ids].reverse());
        expect(all[2]).toEqual({
          id: ids[2] as number,
          clientId: "c1",
          kind: "dns_leak",
          from: null,
          to: "red",
          evidence: { i: 2, detail: { list: [2] } },
          at: T0 + 2000,
          suppressed: true,
        });
        expect(all[1]?.clientId).toBeNull();
        expect((await s.events.query({ clientId: "c1", limit: 10 })).map((e) => e.kind)).toEqual([
          "offline",
          "dns_leak",
          "bypass",
        ]);
        expect((await s.events.query({ kinds: ["offline", "bypass"], limit: 10 })).length).toBe(3);
        expect((await s.events.query({ since: T0 + 3000, limit: 10 })).length).toBe(2);
        expect((await s.events.query({ before: ids[2], limit: 10 })).map((e) => e.id)).toEqual(
          ids.slice(0, 2).reverse(),
        );
        expect(
          (await s.events.query({ clientId: "c1", kinds: ["offline"], before: ids[4], limit: 10 })).length,
        ).toBe(0);
        expect((await s.events.query({ limit: 2 })).length).toBe(2);
      });

      test("history records a row only when something changed", async () => {
        const s = await fresh();
        expect(await s.history.record("c1", history())).toBe(true);
        expect(await s.history.record("c1", history({ at: T0 + 1000 }))).toBe(false);
        expect(await s.history.record("c1", history({ at: T0 + 2000, exitIpv6: "2001:db8::1" }))).toBe(true);
        expect(await s.history.record("c1", history({ at: T0 + 3000, exitIpv6: "2001:db8::1" }))).toBe(false);
        expect(
          await s.history.record("c1", history({ at: T0 + 4000, exitIpv6: "2001:db8::1", resolvers: null })),
        ).toBe(true);
        expect(
          await s.history.record("c1", history({ at: T0 + 5000, status: "red", liveness: "late" })),
        ).toBe(true);
        // another client's history is its own
        expect(
          await s.history.record("c2", history({ at: T0 + 5000, status: "red", liveness: "late" })),
        ).toBe(true);
        const rows = await s.history.range("c1", 0, T0 * 2);
        expect(rows.map((r) => r.at)).toEqual([T0, T0 + 2000, T0 + 4000, T0 + 5000]);
        // rows written without causes or detail read back with null ones
        expect(rows[2]).toEqual({
          ...history({ at: T0 + 4000, exitIpv6: "2001:db8::1", resolvers: null }),
          causes: null,
          detail: null,
        });
      });

      test("causes are compared, detail is kept but not compared; rangeMany with and without rows in force", async () => {
        const s = await fresh();
        const detail = {
          exits: [{ ip: "198.51.100.7", country: "NL", asn: 64_500, org: "Ex" }],
          resolvers: [],
        };
        expect(await s.history.record("c1", history({ causes: "", detail }))).toBe(true);
        expect(await s.history.record("c1", history({ at: T0 + 1, causes: "", detail: null }))).toBe(false);
        expect(await s.history.record("c1", history({ at: T0 + 2, causes: "dns:leak" }))).toBe(true);
        expect(await s.history.record("c1", history({ at: T0 + 3, causes: null }))).toBe(true);
        expect((await s.history.range("c1", 0, T0 * 2)).map((r) => [r.causes, r.detail])).toEqual([
          ["", detail],
          ["dns:leak", null],
          [null, null],
        ]);
        await s.history.record("c2", history({ at: T0 - 5, status: "red" }));
        await s.history.record("B", history({ at: T0 + 2 }));
        expect(await s.history.firstAt()).toBe(T0 - 5);
        const ids = (rows: { clientId: string; at: number }[]) => rows.map((r) => [r.clientId, r.at]);
        // ids in byte order ("B" before "c1"); each client's row in force first
        expect(ids(await s.history.rangeMany(["c1", "c2", "B"], T0 + 1, T0 + 10))).toEqual([
          ["B", T0 + 2],
          ["c1", T0],
          ["c1", T0 + 2],
          ["c1", T0 + 3],
          ["c2", T0 - 5],
        ]);
        const windowOnly = await s.history.rangeMany(["c1", "c2"], T0 + 1, T0 + 10, {
          inForce: false,
          statusOnly: true,
        });
        expect(ids(windowOnly)).toEqual([
          ["c1", T0 + 2],
          ["c1", T0 + 3],
        ]);
        expect(windowOnly[0]).toEqual({
          clientId: "c1",
          at: T0 + 2,
          status: "green",
          liveness: "online",
          causes: "dns:leak",
          exitIpv4: null,
          exitIpv6: null,
          resolvers: null,
        });
      });

      test("event search: a reason's text without wildcards, any case, or the clients and kinds named", async () => {
        const s = await fresh();
        const event = (clientId: string, kind: string, reason: string) =>
          s.events.append({
            clientId,
            kind,
            from: null,
            to: null,
            evidence: { reason },
            at: T0,
            suppressed: false,
          });
        const a = await event("c1", "bypass", "Exit 198.51.100.7 is HOME (100%_sure)");
        const b = await event("c2", "dns_leak", "resolver 192.0.2.53 answered");
        const c = await event("c3", "client.offline", "silent");
        const search = async (text: string, clientIds: string[] = [], kinds: string[] = []) =>
          (await s.events.query({ search: { text, clientIds, kinds }, limit: 10 })).map((e) => e.id);
        expect(await search("home (100%_")).toEqual([a]);
        expect(await search("%")).toEqual([a]);
        expect(await search("_")).toEqual([a]);
        expect(await search("RESOLVER")).toEqual([b]);
        expect(await search("nothing", ["c3"])).toEqual([c]);
        expect(await search("nothing", [], ["dns_leak", "bypass"])).toEqual([b, a]);
        expect(await search("nothing")).toEqual([]);
      });

      test("range: the rows in the window plus the last one before it", async () => {
        const s = await fresh();
        for (const [i, status] of ["green", "red", "green", "red"].entries())
          await s.history.record("c1", history({ at: T0 + i * 1000, status }));
        expect((await s.history.range("c1", T0 + 1500, T0 + 2500)).map((r) => r.at)).toEqual([
          T0 + 1000,
          T0 + 2000,
        ]);
        expect((await s.history.range("c1", T0 - 10, T0)).map((r) => r.at)).toEqual([T0]);
        expect(await s.history.range("nobody", 0, T0 * 2)).toEqual([]);
      });

      test("exitTimes: each exit's time in the window while reporting, longest first, ties by address", async () => {
        const s = await withClient();
        await s.clients.create({ id: "c2", name: "Beta", createdAt: T0, secretEnc: "x" });
        for (const row of [
          history({ at: T0 - 1_000, exitIpv4: "198.51.100.1" }), // opens the window
          history({ at: T0 + 1_000, exitIpv4: null, exitIpv6: "2001:db8::1" }),
          history({ at: T0 + 2_000, exitIpv4: "198.51.100.2", liveness: "offline" }),
          history({ at: T0 + 3_000, exitIpv4: "198.51.100.2", liveness: "late" }),
          history({ at: T0 + 4_000, exitIpv4: "198.51.100.1" }),
          history({ at: T0 + 9_000, exitIpv4: "198.51.100.9" }), // after the window
        ])
          await s.history.record("c1", row);
        await s.history.record("c2", history({ at: T0, exitIpv4: "198.51.100.1" }));
        expect(await s.history.exitTimes("c1", T0, T0 + 5_000)).toEqual([
          { ip: "198.51.100.1", ms: 2_000 },
          { ip: "198.51.100.2", ms: 1_000 },
          { ip: "2001:db8::1", ms: 1_000 },
        ]);
        expect(await s.history.exitTimes("c1", T0 + 10_000, T0 + 20_000)).toEqual([
          { ip: "198.51.100.9", ms: 10_000 },
        ]);
        expect(await s.history.exitTimes("nobody", T0, T0 + 5_000)).toEqual([]);
      });

      test("server downtime, and prune keeps each client's last row before the cut", async () => {
        const s = await fresh();
        await s.history.recordServerDowntime(T0 - 5000, T0 - 4000);
        await s.history.recordServerDowntime(T0 + 1000, T0 + 2000);
        expect(await s.history.serverDowntimes(T0 - 4500, T0 + 1500)).toEqual([
          { from: T0 - 5000, to: T0 - 4000 },
          { from: T0 + 1000, to: T0 + 2000 },
        ]);
        expect(await s.history.serverDowntimes(T0 + 2001, T0 + 3000)).toEqual([]);
        for (const [i, status] of ["green", "red", "green"].entries())
          await s.history.record("c1", history({ at: T0 - 3000 + i * 1000, status }));
        await s.history.record("c2", history({ at: T0 - 3000 }));
        await s.history.record("c2", history({ at: T0 + 500, status: "red" }));
        await s.events.append({
          clientId: "c1",
          kind: "old",
          from: null,
          to: null,
          evidence: {},
          at: T0 - 1,
          suppressed: false,
        });
        await s.events.append({
          clientId: "c1",
          kind: "new",
          from: null,
          to: null,
          evidence: {},
          at: T0,
          suppressed: false,
        });
        // removed: c1's two oldest history rows, the old event, the first downtime
        expect(await s.history.prune(T0)).toBe(4);
        expect((await s.history.range("c1", T0, T0 * 2)).map((r) => r.at)).toEqual([T0 - 1000]);
        expect((await s.history.range("c2", T0, T0 * 2)).map((r) => r.at)).toEqual([T0 - 3000, T0 + 500]);
        expect((await s.events.query({ limit: 10 })).map((e) => e.kind)).toEqual(["new"]);
        expect(await s.history.serverDowntimes(0, T0 * 2)).toEqual([{ from: T0 + 1000, to: T0 + 2000 }]);
      });
    });

    describe("tokens and meta", () => {
      test("API tokens: create, list by name, find active by hash, touch, revoke by id or name", async () => {
        const s = await fresh();
        const token = (id: string, tokenName: string) => ({
          id,
          name: tokenName,
          role: "viewer" as const,
          tokenHash: `hash-${id}`,
          createdAt: T0,
          lastUsedAt: null,
          revokedAt: null,
        });
        await s.tokens.create(token("t1", "grafana"));
        await s.tokens.create({ ...token("t2", "CI"), role: "admin" });
        await expect(s.tokens.create(token("t3", "ci"))).rejects.toThrow();
        expect((await s.tokens.list()).map((t) => t.name)).toEqual(["CI", "grafana"]);
        expect(await s.tokens.findActiveByHash("hash-t2")).toEqual({ ...token("t2", "CI"), role: "admin" });
        await s.tokens.touch("t1", T0 + 5);
        expect((await s.tokens.findActiveByHash("hash-t1"))?.lastUsedAt).toBe(T0 + 5);
        expect(await s.tokens.revoke("ci", T0 + 10)).toBe(true);
        expect(await s.tokens.revoke("t2", T0 + 11)).toBe(false);
        expect(await s.tokens.findActiveByHash("hash-t2")).toBeNull();
        expect(await s.tokens.revoke("t1", T0 + 12)).toBe(true);
        expect((await s.tokens.list()).map((t) => t.revokedAt)).toEqual([T0 + 10, T0 + 12]);
        expect(await s.tokens.revoke("nobody", T0)).toBe(false);
      });

      test("meta: absent, set, overwritten", async () => {
        const s = await fresh();
        expect(await s.meta.get("k")).toBeNull();
        await s.meta.set("k", "v1");
        await s.meta.set("k", "v2");
        expect(await s.meta.get("k")).toBe("v2");
      });
    });

    describe("users, sessions, audit", () => {
      const user = (id: string, userName: string) => ({
        id,
        name: userName,
        role: "admin" as const,
        passwordHash: `ph-${id}`,
        createdAt: T0,
      });

      test("users: create, find by name in any case, list, role, password, lockout, removal", async () => {
        const s = await fresh();
        expect(await s.auth.countUsers()).toBe(0);
        await s.auth.createUser(user("u1", "root"));
        await s.auth.createUser({ ...user("u2", "Bea"), role: "viewer" });
        await expect(s.auth.createUser(user("u3", "ROOT"))).rejects.toThrow();
        expect(await s.auth.countUsers()).toBe(2);
        expect(await s.auth.getUser("u1")).toEqual({
          id: "u1",
          name: "root",
          role: "admin",
          passwordHash: "ph-u1",
          createdAt: T0,
          passwordChangedAt: T0,
          lastLoginAt: null,
          failedLogins: 0,
          lockedUntil: null,
        });
        expect((await s.auth.getUserByName("Root"))?.id).toBe("u1");
        expect((await s.auth.listUsers()).map((u) => u.name)).toEqual(["Bea", "root"]);
        await s.auth.setRole("u2", "admin");
        expect((await s.auth.getUser("u2"))?.role).toBe("admin");
        expect(await s.auth.recordFailedLogin("u1", 3, T0 + 900_000)).toBe(1);
        expect(await s.auth.recordFailedLogin("u1", 3, T0 + 900_000)).toBe(2);
        expect((await s.auth.getUser("u1"))?.lockedUntil).toBeNull();
        expect(await s.auth.recordFailedLogin("u1", 3, T0 + 900_000)).toBe(3);
        expect((await s.auth.getUser("u1"))?.lockedUntil).toBe(T0 + 900_000);
        await s.auth.recordLogin("u1", T0 + 1);
        expect(await s.auth.getUser("u1")).toMatchObject({
          lastLoginAt: T0 + 1,
          failedLogins: 0,
          lockedUntil: null,
        });
        await s.auth.recordFailedLogin("u1", 1, T0 + 5);
        await s.auth.setPassword("u1", "ph-new", T0 + 2);
        expect(await s.auth.getUser("u1")).toMatchObject({
          passwordHash: "ph-new",
          passwordChangedAt: T0 + 2,
          failedLogins: 0,
          lockedUntil: null,
        });
        expect(await s.auth.recordFailedLogin("nobody", 3, T0)).toBe(0);
        expect(await s.auth.removeUser("u2")).toBe(true);
        expect(await s.auth.removeUser("u2")).toBe(false);
        expect(await s.auth.getUserByName("bea")).toBeNull();
      });

      test("sessions: create, touch, delete, end a user's other sessions, prune, gone with the user", async () => {
        const s = await fresh();
        await s.auth.createUser(user("u1", "root"));
        const session = (idHash: string, expiresAt: number) => ({
          idHash,
          userId: "u1",
          csrfToken: `csrf-${idHash}`,
          createdAt: T0,
          expiresAt,
          lastSeenAt: T0,
          sourceIp: idHash === "s1" ? "192.0.2.1" : null,
        });
        for (const [id, exp] of [
          ["s1", T0 + 1000],
          ["s2", T0 + 2000],
          ["s3", T0 + 3000],
          ["s4", T0 + 4000],
        ] as const)
          await s.auth.createSession(session(id, exp));
        expect(await s.auth.getSession("s1")).toEqual(session("s1", T0 + 1000));
        await s.auth.touchSession("s1", T0 + 10, T0 + 10_000);
        expect(await s.auth.getSession("s1")).toMatchObject({ lastSeenAt: T0 + 10, expiresAt: T0 + 10_000 });
        await s.auth.deleteSession("s4");
        expect(await s.auth.getSession("s4")).toBeNull();
        expect(await s.auth.pruneSessions(T0 + 2500)).toBe(1); // s2
        expect(await s.auth.deleteUserSessions("u1", "s1")).toBe(1); // s3
        expect(await s.auth.getSession("s1")).not.toBeNull();
        expect(await s.auth.deleteUserSessions("u1")).toBe(1); // s1
        await s.auth.createSession(session("s5", T0 + 5000));
        await s.auth.removeUser("u1");
        expect(await s.auth.getSession("s5")).toBeNull();
      });

      test("audit: appended with increasing ids, listed newest first by cursor and actor", async () => {
        const s = await fresh();
        const ids: number[] = [];
        for (const [i, actor] of ["cli", "root", "cli", "setup"].entries())
          ids.push(
            await s.auth.audit({
              at: T0 + i,
              actor,
              action: `a${i}`,
              target: i % 2 ? `t${i}` : null,
              detail: { i, nested: { ok: true } },
              sourceIp: i === 1 ? "2001:db8::5" : null,
            }),
          );
        expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number))).toBe(true);
        const all = await s.auth.listAudit({ limit: 10 });
        expect(all.map((e) => e.action)).toEqual(["a3", "a2", "a1", "a0"]);
        expect(all[2]).toEqual({
          id: ids[1] as number,
          at: T0 + 1,
          actor: "root",
          action: "a1",
          target: "t1",
          detail: { i: 1, nested: { ok: true } },
          sourceIp: "2001:db8::5",
        });
        expect((await s.auth.listAudit({ limit: 10, actor: "cli" })).map((e) => e.action)).toEqual([
          "a2",
          "a0",
        ]);
        expect((await s.auth.listAudit({ limit: 10, before: ids[2] })).map((e) => e.action)).toEqual([
          "a1",
          "a0",
        ]);
        expect((await s.auth.listAudit({ limit: 1 })).length).toBe(1);
      });
    });

    describe("outbox", () => {
      test("insert: one row per idempotency key; get and list (newest first, filtered)", async () => {
        const s = await fresh();
        const a = (await s.outbox.insert(outboxRow({ idempotencyKey: "k1", eventId: 7 }))) as number;
        expect(a).toBeNumber();
        expect(await s.outbox.insert(outboxRow({ idempotencyKey: "k1" }))).toBeNull();
        const b = (await s.outbox.insert(
          outboxRow({ idempotencyKey: "k2", clientId: "c2", status: "suppressed", lastError: "muted" }),
        )) as number;
        const c = (await s.outbox.insert(
          outboxRow({ idempotencyKey: "k3", payload: ["a", 1, null] }),
        )) as number;
        expect(await s.outbox.get(a as number)).toEqual({
          id: a as number,
          eventId: 7,
          clientId: "c1",
          kind: "bypass",
          channel: "telegram",
          target: "chat-1",
          idempotencyKey: "k1",
          payload: { text: "hello", parts: ["a", "b"] },
          status: "pending",
          digestId: null,
          attempts: 0,
          partsSent: 0,
          nextAttemptAt: T0,
          claimedBy: null,
          claimedUntil: null,
          lastError: null,
          createdAt: T0,
          deliveredAt: null,
        });
        expect((await s.outbox.get(c as number))?.payload).toEqual(["a", 1, null]);
        expect(await s.outbox.get(999_999)).toBeNull();
        expect((await s.outbox.list({ limit: 10 })).map((r) => r.id)).toEqual([c, b, a]);
        expect((await s.outbox.list({ limit: 10, status: "suppressed" })).map((r) => r.id)).toEqual([b]);
        expect((await s.outbox.list({ limit: 10, clientId: "c1" })).map((r) => r.id)).toEqual([c, a]);
        expect((await s.outbox.list({ limit: 10, before: c as number })).map((r) => r.id)).toEqual([b, a]);
        expect(await s.outbox.countByStatus()).toEqual({
          pending: 2,
          sending: 0,
          delivered: 0,
          failed: 0,
          suppressed: 1,
        });
      });

      test("only a lane's head is due; claim is compare-and-set; an expired lease can be claimed again", async () => {
        const s = await fresh();
        const a1 = (await s.outbox.insert(outboxRow({ target: "A" }))) as number;
        const a2 = (await s.outbox.insert(outboxRow({ target: "A" }))) as number;
        const b1 = (await s.outbox.insert(outboxRow({ target: "B", nextAttemptAt: T0 + 5000 }))) as number;
        expect((await s.outbox.dueHeads(T0, 10)).map((r) => r.id)).toEqual([a1]);
        expect(await s.outbox.nextDueAt(T0)).toBe(T0);
        expect((await s.outbox.dueHeads(T0 + 5000, 10)).map((r) => r.id)).toEqual([a1, b1]);
        // two dispatchers race for the head: exactly one wins
        const wins = await Promise.all([
          s.outbox.claim(a1, "d1", T0, T0 + 30_000),
          s.outbox.claim(a1, "d2", T0, T0 + 30_000),
        ]);
        expect(wins.filter(Boolean).length).toBe(1);
        const owner = wins[0] ? "d1" : "d2";
        const other = wins[0] ? "d2" : "d1";
        expect(await s.outbox.get(a1)).toMatchObject({
          status: "sending",
          claimedBy: owner,
          claimedUntil: T0 + 30_000,
        });
        // the head is taken: the lane holds, a2 waits behind it
        expect((await s.outbox.dueHeads(T0 + 1000, 10)).map((r) => r.id)).toEqual([]);
        expect(await s.outbox.nextDueAt(T0 + 1000)).toBe(T0 + 5000);
        expect(await s.outbox.claim(a2, other, T0, T0 + 30_000)).toBe(true); // claim checks due, not headship
        await s.outbox.release(a2, other, { at: T0, countAttempt: false, error: null });
        expect(await s.outbox.progress(a1, other, 1, T0 + 60_000)).toBe(false);
        expect(await s.outbox.progress(a1, owner, 1, T0 + 60_000)).toBe(true);
        expect(await s.outbox.get(a1)).toMatchObject({ partsSent: 1, claimedUntil: T0 + 60_000 });
        // the lease runs out: the row is due again and another dispatcher takes it
        expect((await s.outbox.dueHeads(T0 + 60_000, 10)).map((r) => r.id)).toEqual([a1, b1]);
        expect(await s.outbox.claim(a1, other, T0 + 60_000, T0 + 90_000)).toBe(true);
        expect(await s.outbox.complete(a1, owner, T0 + 60_001)).toBe(false);
        expect(await s.outbox.complete(a1, other, T0 + 60_001)).toBe(true);
        expect(await s.outbox.get(a1)).toMatchObject({
          status: "delivered",
          deliveredAt: T0 + 60_001,
          claimedBy: null,
          claimedUntil: null,
          partsSent: 1,
        });
        expect((await s.outbox.dueHeads(T0 + 60_001, 10)).map((r) => r.id)).toEqual([a2, b1]);
      });

      test("release counts attempts and keeps the last error; fail is final", async () => {
        const s = await fresh();
        const id = (await s.outbox.insert(outboxRow())) as number;
        expect(await s.outbox.claim(id, "d1", T0, T0 + 30_000)).toBe(true);
        expect(await s.outbox.release(id, "d2", { at: T0 + 10, countAttempt: true, error: "x" })).toBe(false);
        expect(
          await s.outbox.release(id, "d1", { at: T0 + 1000, countAttempt: true, error: "HTTP 502" }),
        ).toBe(true);
        expect(await s.outbox.get(id)).toMatchObject({
          status: "pending",
          attempts: 1,
          lastError: "HTTP 502",
          nextAttemptAt: T0 + 1000,
          claimedBy: null,
        });
        expect(await s.outbox.claim(id, "d1", T0, T0 + 30_000)).toBe(false); // not due yet
        expect(await s.outbox.claim(id, "d1", T0 + 1000, T0 + 30_000)).toBe(true);
        // a 429 wait is no failed attempt, and no new error keeps the old one
        expect(await s.outbox.release(id, "d1", { at: T0 + 2000, countAttempt: false, error: null })).toBe(
          true,
        );
        expect(await s.outbox.get(id)).toMatchObject({ attempts: 1, lastError: "HTTP 502" });
        expect(await s.outbox.claim(id, "d1", T0 + 2000, T0 + 30_000)).toBe(true);
        expect(await s.outbox.fail(id, "d2", "nope")).toBe(false);
        expect(await s.outbox.fail(id, "d1", "HTTP 400: chat not found")).toBe(true);
        expect(await s.outbox.get(id)).toMatchObject({
          status: "failed",
          attempts: 2,
          lastError: "HTTP 400: chat not found",
        });
        expect(await s.outbox.dueHeads(T0 + 1_000_000, 10)).toEqual([]);
        expect(await s.outbox.nextDueAt(T0 + 1_000_000)).toBeNull();
      });

      test("digests: members follow their digest row, which collects until due", async () => {
        const s = await fresh();
        const digest = (await s.outbox.insert(
          outboxRow({
            kind: "digest",
            clientId: null,
            nextAttemptAt: T0 + 60_000,
            payload: { digest: true },
          }),
        )) as number;
        expect((await s.outbox.openDigest("telegram", "chat-1", T0))?.id).toBe(digest);
        expect(await s.outbox.openDigest("telegram", "chat-1", T0 + 60_000)).toBeNull();
        expect(await s.outbox.openDigest("telegram", "chat-2", T0)).toBeNull();
        const m1 = (await s.outbox.insert(outboxRow({ digestId: digest }))) as number;
        const m2 = (await s.outbox.insert(outboxRow({ digestId: digest, kind: "offline" }))) as number;
        expect((await s.outbox.digestMembers(digest)).map((r) => r.id)).toEqual([m1, m2]);
        // members are never heads
        expect(await s.outbox.dueHeads(T0 + 1000, 10)).toEqual([]);
        expect((await s.outbox.dueHeads(T0 + 60_000, 10)).map((r) => r.id)).toEqual([digest]);
        expect(await s.outbox.claim(digest, "d1", T0 + 60_000, T0 + 90_000)).toBe(true);
        expect(await s.outbox.complete(digest, "d1", T0 + 61_000)).toBe(true);
        for (const id of [m1, m2])
          expect(await s.outbox.get(id)).toMatchObject({ status: "delivered", deliveredAt: T0 + 61_000 });

        const d2 = (await s.outbox.insert(outboxRow({ kind: "digest", target: "chat-2" }))) as number;
        const m3 = (await s.outbox.insert(outboxRow({ digestId: d2, target: "chat-2" }))) as number;
        expect(await s.outbox.claim(d2, "d1", T0, T0 + 30_000)).toBe(true);
        expect(await s.outbox.fail(d2, "d1", "gone")).toBe(true);
        expect(await s.outbox.get(m3)).toMatchObject({ status: "failed", lastError: "gone" });
      });

      test("a digest that still collects holds nothing back; nextDueAt names when it is due", async () => {
        const s = await fresh();
        const r1 = (await s.outbox.insert(outboxRow())) as number;
        const d = (await s.outbox.insert(
          outboxRow({ kind: "digest", nextAttemptAt: T0 + 10_000 }),
        )) as number;
        const m = (await s.outbox.insert(outboxRow({ digestId: d }))) as number;
        const r2 = (await s.outbox.insert(outboxRow())) as number;
        expect((await s.outbox.dueHeads(T0, 10)).map((r) => r.id)).toEqual([r1]);
        expect(await s.outbox.claim(r1, "d1", T0, T0 + 30_000)).toBe(true);
        expect(await s.outbox.complete(r1, "d1", T0)).toBe(true);
        // the digest collects until T0 + 10 s; the row behind it goes meanwhile
        expect((await s.outbox.dueHeads(T0 + 1, 10)).map((r) => r.id)).toEqual([r2]);
        expect(await s.outbox.claim(r2, "d1", T0 + 1, T0 + 30_000)).toBe(true);
        expect(await s.outbox.complete(r2, "d1", T0 + 2)).toBe(true);
        expect(await s.outbox.dueHeads(T0 + 3, 10)).toEqual([]);
        expect(await s.outbox.nextDueAt(T0 + 3)).toBe(T0 + 10_000);
        expect((await s.outbox.dueHeads(T0 + 10_000, 10)).map((r) => r.id)).toEqual([d]);
        expect((await s.outbox.get(m))?.status).toBe("pending");
      });

      test("releaseClaims gives back what one dispatcher holds, without counting an attempt", async () => {
        const s = await fresh();
        const [a, b, c] = [
          (await s.outbox.insert(outboxRow({ target: "A" }))) as number,
          (await s.outbox.insert(outboxRow({ target: "B" }))) as number,
          (await s.outbox.insert(outboxRow({ target: "C" }))) as number,
        ];
        await s.outbox.claim(a, "d1", T0, T0 + 30_000);
        await s.outbox.claim(b, "d1", T0, T0 + 30_000);
        await s.outbox.claim(c, "d2", T0, T0 + 30_000);
        expect(await s.outbox.releaseClaims("d1", T0 + 5)).toBe(2);
        for (const id of [a, b])
          expect(await s.outbox.get(id)).toMatchObject({
            status: "pending",
            claimedBy: null,
            claimedUntil: null,
            nextAttemptAt: T0 + 5,
            attempts: 0,
          });
        expect(await s.outbox.get(c)).toMatchObject({ status: "sending", claimedBy: "d2" });
        expect(await s.outbox.releaseClaims("nobody", T0)).toBe(0);
      });

      test("per-client digests and windows; queues per channel; lane records; retryNow", async () => {
        const s = await fresh();
        const lane = (await s.outbox.insert(
          outboxRow({ kind: "digest", clientId: null, nextAttemptAt: T0 + 60_000 }),
        )) as number;
        const own = (await s.outbox.insert(
          outboxRow({ kind: "digest", clientId: "c1", nextAttemptAt: T0 + 60_000 }),
        )) as number;
        expect((await s.outbox.openDigest("telegram", "chat-1", T0))?.id).toBe(lane);
        expect((await s.outbox.openDigest("telegram", "chat-1", T0, null))?.id).toBe(lane);
        expect((await s.outbox.openDigest("telegram", "chat-1", T0, "c1"))?.id).toBe(own);
        expect(await s.outbox.openDigest("telegram", "chat-1", T0, "c2")).toBeNull();

        await s.outbox.insert(outboxRow({ createdAt: T0 + 10 }));
        await s.outbox.insert(outboxRow({ createdAt: T0 + 20 }));
        await s.outbox.insert(outboxRow({ createdAt: T0 + 30, status: "suppressed" }));
        await s.outbox.insert(outboxRow({ createdAt: T0 + 40, digestId: own }));
        await s.outbox.insert(outboxRow({ createdAt: T0 + 50, clientId: "c2" }));
        await s.outbox.insert(outboxRow({ createdAt: T0 + 60, target: "chat-2" }));
        expect(await s.outbox.clientWindow("telegram", "chat-1", "c1", T0)).toEqual({
          count: 2,
          oldestAt: T0 + 10,
        });
        expect(await s.outbox.clientWindow("telegram", "chat-1", "c1", T0 + 15)).toEqual({
          count: 1,
          oldestAt: T0 + 20,
        });
        expect(await s.outbox.clientWindow("telegram", "chat-1", "c9", T0)).toEqual({
          count: 0,
          oldestAt: null,
        });

        const failed = (await s.outbox.insert(
          outboxRow({ channel: "webhook", createdAt: T0 - 5 }),
        )) as number;
        await s.outbox.claim(failed, "d", T0, T0 + 1);
        await s.outbox.fail(failed, "d", "HTTP 410");
        await s.outbox.insert(outboxRow({ channel: "webhook", createdAt: T0 + 7 }));
        const queues = await s.outbox.queues();
        // telegram: two digests, four rows of their own (members and suppressed rows excluded)
        expect(queues.get("telegram")).toEqual({ waiting: 6, oldestWaitingAt: T0, failed: 0 });
        expect(queues.get("webhook")).toEqual({ waiting: 1, oldestWaitingAt: T0 + 7, failed: 1 });

        expect(await s.outbox.lanes()).toEqual([]);
        await s.outbox.recordAttempt("telegram", "chat-1", T0, "HTTP 502");
        await s.outbox.recordAttempt("telegram", "chat-1", T0 + 5, "HTTP 503");
        await s.outbox.recordAttempt("webhook", "https://example.invalid", T0 + 1, null);
        expect(await s.outbox.lanes()).toEqual([
          {
            channel: "telegram",
            target: "chat-1",
            lastOkAt: null,
            failingSince: T0,
            lastError: "HTTP 503",
            lastErrorAt: T0 + 5,
          },
          {
            channel: "webhook",
            target: "https://example.invalid",
            lastOkAt: T0 + 1,
            failingSince: null,
            lastError: null,
            lastErrorAt: null,
          },
        ]);
        await s.outbox.recordAttempt("telegram", "chat-1", T0 + 9, null);
        expect((await s.outbox.lanes())[0]).toMatchObject({
          lastOkAt: T0 + 9,
          failingSince: null,
          lastError: "HTTP 503",
        });

        // a row waiting out a retry delay goes now; a digest that collects (no attempt yet) keeps collecting
        const retry = (await s.outbox.insert(outboxRow({ target: "chat-3" }))) as number;
        await s.outbox.claim(retry, "d", T0, T0 + 30_000);
        await s.outbox.release(retry, "d", { at: T0 + 600_000, countAttempt: true, error: "HTTP 502" });
        expect(await s.outbox.retryNow("telegram", "chat-3", T0 + 100)).toBe(1);
        expect((await s.outbox.get(retry))?.nextAttemptAt).toBe(T0 + 100);
        expect(await s.outbox.retryNow("telegram", "chat-1", T0 + 100)).toBe(0);
        expect((await s.outbox.get(lane))?.nextAttemptAt).toBe(T0 + 60_000);
      });

      test.failingIf(target.knownBugs?.has(COUNT_RECENT_NO_EXCLUDES) ?? false)(
        COUNT_RECENT_NO_EXCLUDES,
        async () => {
          const s = await fresh();
          await s.outbox.insert(outboxRow({ kind: "bypass" }));
          await s.outbox.insert(outboxRow({ kind: "reminder" }));
          expect(await s.outbox.countRecent("telegram", "chat-1", T0, [])).toBe(2);
        },
      );

      test("countRecent, lastForClient, forEvent, prune", async () => {
        const s = await fresh();
        const add = (over: Partial<NewOutboxRow>) => s.outbox.insert(outboxRow(over)) as Promise<number>;
        const r1 = await add({ kind: "bypass", createdAt: T0, eventId: 1 });
        const r2 = await add({ kind: "reminder", createdAt: T0 + 1000, eventId: 1 });
        await add({ kind: "offline", createdAt: T0 + 2000, status: "suppressed", eventId: 2 });
        const r4 = await add({ kind: "server_restart", clientId: null, createdAt: T0 + 3000 });
        await add({ kind: "bypass", target: "chat-2", createdAt: T0 + 4000, eventId: 1 });
        expect(await s.outbox.countRecent("telegram", "chat-1", T0, ["reminder"])).toBe(2);
        expect(await s.outbox.countRecent("telegram", "chat-1", T0 + 500, ["reminder", "digest"])).toBe(1);
        expect((await s.outbox.lastForClient("c1", ["bypass", "reminder"], "telegram", "chat-1"))?.id).toBe(
          r2,
        );
        expect((await s.outbox.lastForClient("c1", ["bypass"], "telegram", "chat-1"))?.id).toBe(r1);
        expect((await s.outbox.lastForClient(null, ["server_restart"], "telegram", "chat-1"))?.id).toBe(r4);
        expect(await s.outbox.lastForClient("c1", ["server_restart"], "telegram", "chat-1")).toBeNull();
        expect(await s.outbox.lastForClient("c1", [], "telegram", "chat-1")).toBeNull();
        expect((await s.outbox.forEvent(1, "telegram", "chat-1")).map((r) => r.id)).toEqual([r1, r2]);
        await s.outbox.claim(r1, "d", T0, T0 + 1);
        await s.outbox.complete(r1, "d", T0);
        // finished rows older than the cut go: r1 (delivered) and the suppressed one
        expect(await s.outbox.prune(T0 + 2500)).toBe(2);
        expect(await s.outbox.get(r1)).toBeNull();
        expect(await s.outbox.get(r2)).not.toBeNull();
        expect(await s.stats.outboxByChannel()).toEqual([
          { channel: "telegram", status: "pending", count: 3 },
        ]);
      });
    });

    describe("dashboard channels", () => {
      const channel = (id: string, at: number) => ({
        id,
        urlSealed: `v1:k1:${id}`,
        display: `ntfys://ntfy.example/${id}?token=***`,
        createdAt: at,
        updatedAt: at,
      });

      test("oldest first (ids byte by byte on a tie), every time a number; update, remove, re-seal", async () => {
        const s = await fresh();
        for (const c of [channel("ch_b", T0), channel("ch_B", T0), channel("ch_a", T0 + 1)])
          await s.channels.create(c);
        expect((await s.channels.list()).map((c) => c.id)).toEqual(["ch_B", "ch_b", "ch_a"]);
        expect(await s.channels.get("ch_a")).toEqual(channel("ch_a", T0 + 1));
        const change = { urlSealed: "v1:k1:new", display: "new", updatedAt: T0 + 9 };
        expect(await s.channels.update("ch_a", change)).toBe(true);
        expect(await s.channels.update("nope", change)).toBe(false);
        expect(await s.channels.get("ch_a")).toEqual({ ...channel("ch_a", T0 + 1), ...change });
        expect(await s.channels.reencrypt((sealed) => sealed.replace("v1:k1:", "v1:k2:"))).toBe(3);
        expect((await s.channels.list()).every((c) => c.urlSealed.startsWith("v1:k2:"))).toBe(true);
        expect(await s.channels.remove("ch_b")).toBe(true);
        expect(await s.channels.remove("ch_b")).toBe(false);
        expect(await s.channels.get("ch_b")).toBeNull();
      });

      test("a re-seal that fails half-way changes no URL", async () => {
        const s = await fresh();
        for (const id of ["ch_1", "ch_2", "ch_3"]) await s.channels.create(channel(id, T0));
        let calls = 0;
        const failing = (sealed: string) => {
          if (++calls === 2) throw new Error("the key cannot open this one");
          return sealed.replace("v1:k1:", "v1:k2:");
        };
        await expect(s.channels.reencrypt(failing)).rejects.toThrow("cannot open");
        expect((await s.channels.list()).map((c) => c.urlSealed)).toEqual([
          "v1:k1:ch_1",
          "v1:k1:ch_2",
          "v1:k1:ch_3",
        ]);
      });
    });

    describe("DNS oracle sightings", () => {
      const sighting = (name: string, at: number, resolver = "192.0.2.53") => ({
        name,
        qtype: "A",
        resolver,
        transport: "udp" as const,
        client_subnet: null,
        at,
      });

      test("take returns the names' sightings oldest first (then as recorded) and removes them; prune forgets expired ones", async () => {
        const s = await fresh();
        await s.oracle.record(sighting("b.zone.example", T0 + 2), T0 + 60_000);
        await s.oracle.record(
          {
            ...sighting("a.zone.example", T0 + 1),
            qtype: "AAAA",
            transport: "tcp",
            client_subnet: "203.0.113.0/24",
          },
          T0 + 60_000,
        );
        await s.oracle.record(sighting("a.zone.example", T0 + 2, "2001:db8::53"), T0 + 60_000);
        await s.oracle.record(sighting("old.zone.example", T0), T0 + 10);
        expect(await s.oracle.take([])).toEqual([]);
        expect(await s.oracle.take(["a.zone.example", "b.zone.example", "none.zone.example"])).toEqual([
          {
            ...sighting("a.zone.example", T0 + 1),
            qtype: "AAAA",
            transport: "tcp",
            client_subnet: "203.0.113.0/24",
          },
          sighting("b.zone.example", T0 + 2),
          sighting("a.zone.example", T0 + 2, "2001:db8::53"),
        ]);
        expect(await s.oracle.take(["a.zone.example"])).toEqual([]);
        expect(await s.oracle.prune(T0 + 11)).toBe(1);
        expect(await s.oracle.take(["old.zone.example"])).toEqual([]);
      });

      test("a sighting recorded by one process is taken by another, exactly once", async () => {
        const { stores, close } = await target.openShared(2);
        try {
          const [a, b] = stores as [Store, Store];
          for (let i = 0; i < 20; i++)
            await a.oracle.record(sighting(`n${i}.zone.example`, T0 + i), T0 + 60_000);
          const names = Array.from({ length: 20 }, (_, i) => `n${i}.zone.example`);
          const taken = await Promise.all([a.oracle.take(names), b.oracle.take(names), b.oracle.take(names)]);
          expect(
            taken
              .flat()
              .map((t) => t.name)
              .sort(),
          ).toEqual([...names].sort());
        } finally {
          await close();
        }
      });
    });

    test("stats: clients per status and liveness", async () => {
      const s = await fresh();
      for (const [i, [status, liveness]] of [
        ["green", "online"],
        ["green", "online"],
        ["red", "late"],
      ].entries()) {
        await s.clients.create({ id: `c${i}`, name: `n${i}`, createdAt: T0, secretEnc: "x" });
        await s.clients.applyReport(`c${i}`, update({ status, liveness }));
      }
      await s.clients.create({ id: "c9", name: "n9", createdAt: T0, secretEnc: "x" });
      const rows = (await s.stats.clientsByStatus()).sort((a, b) => a.status.localeCompare(b.status));
      expect(rows).toEqual([
        { status: "green", liveness: "online", count: 2 },
        { status: "grey", liveness: "never", count: 1 },
        { status: "red", liveness: "late", count: 1 },
      ]);
    });

    test("readiness: the schema is current and the database answers", async () => {
      const s = await fresh();
      const r = await s.readiness();
      expect(r.ok).toBe(true);
      expect(r.schemaVersion).toBe(r.expectedSchemaVersion);
    });

    test("the change feed carries news to another process on the same database, not back to the sender", async () => {
      const { stores, close } = await target.openShared(2);
      try {
        const [a, b] = stores as [Store, Store];
        const atA: string[] = [];
        const atB: { topic: ChangeTopic; message: unknown }[] = [];
        a.changes.subscribe((topic) => void atA.push(topic));
        b.changes.subscribe((topic, message) => void atB.push({ topic, message }));
        await Bun.sleep(300); // both listening
        await a.clients.create({ id: "c1", name: "Alpha", createdAt: T0, secretEnc: "x" });
        const message: ChangeMessages["client.changed"] = { clientId: "c1" };
        a.changes.publish("client.changed", message);
        await waitFor(() => atB.length > 0, 1_000, "the other store to hear of the change");
        // PostgreSQL carries the message itself; SQLite's other process learns that something changed
        if (a.engine === "postgres") expect(atB).toContainEqual({ topic: "client.changed", message });
        else expect(atB.map((m) => m.topic)).toContain("store.external");
        await Bun.sleep(200);
        expect(atA).not.toContain("client.changed");
      } finally {
        await close();
      }
    });

    describe.skipIf(!target.replicas)("leadership between replicas", () => {
      const leaders = (stores: Store[]) => stores.filter((s) => s.leadership.isLeader());

      test("one replica leads, the lease names it, and a stopped leader hands over", async () => {
        const { stores, close } = await target.openShared(3);
        try {
          const changes: boolean[][] = stores.map(() => []);
          await Promise.all(stores.map((s, i) => s.leadership.start((l) => void changes[i]?.push(l))));
          await waitFor(() => leaders(stores).length === 1, 5_000, "one leader");
          const leader = leaders(stores)[0] as Store;
          const lease = await stores[2]?.leadership.current();
          expect(lease?.replica).toBeString();
          expect(typeof lease?.since).toBe("number");
          const before = lease?.replica;
          await leader.leadership.stop();
          expect(leader.leadership.isLeader()).toBe(false);
          const rest = stores.filter((s) => s !== leader);
          await waitFor(() => leaders(rest).length === 1, 5_000, "a follower to take over");
          const after = await rest[0]?.leadership.current();
          expect(after?.replica).not.toBe(before);
          expect(changes[stores.indexOf(leader)]).toEqual([true, false]);
        } finally {
          await close();
        }
      }, 20_000);

      test("killing the leader's database session hands the lead over within 15 s, never to two at once", async () => {
        const { stores, close } = await target.openShared(2);
        try {
          const changes: boolean[][] = stores.map(() => []);
          await Promise.all(stores.map((s, i) => s.leadership.start((l) => void changes[i]?.push(l))));
          await waitFor(() => leaders(stores).length === 1, 5_000, "one leader");
          let overlap = 0;
          const watch = setInterval(() => {
            if (leaders(stores).length > 1) overlap++;
          }, 5);
          const old = leaders(stores)[0] as Store;
          const started = Date.now();
          await target.killLeaderSession?.(old);
          await waitFor(() => !old.leadership.isLeader(), 5_000, "the old leader to notice");
          await waitFor(() => leaders(stores).length === 1, 15_000, "a new leader");
          clearInterval(watch);
          expect(Date.now() - started).toBeLessThan(15_000);
          expect(overlap).toBe(0);
          expect(changes[stores.indexOf(old)]?.slice(0, 2)).toEqual([true, false]);
          const lease = await stores[0]?.leadership.current();
          expect(lease).not.toBeNull();
        } finally {
          await close();
        }
      }, 30_000);
    });
  });
}
