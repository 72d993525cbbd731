import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../server/store/index.ts";
import { DataDirError, patientStore, retryWhileBusy } from "./data-dir.ts";
import { accountName } from "./permissions.ts";

const busy = (code = "SQLITE_BUSY") => Object.assign(new Error("database is locked"), { code });
const noSleep = { patienceMs: 1000, sleep: async () => {}, now: () => 0 };

describe("retryWhileBusy", () => {
  test("runs again while SQLite says busy or locked, then returns", async () => {
    const codes = ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"];
    let calls = 0;
    const result = await retryWhileBusy(async () => {
      const code = codes[calls++];
      if (code) throw busy(code);
      return "done";
    }, noSleep);
    expect(result).toBe("done");
    expect(calls).toBe(4);
  });

  test("other errors go through at once", async () => {
    let calls = 0;
    await expect(
      retryWhileBusy(async () => {
        calls++;
        throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
      }, noSleep),
    ).rejects.toThrow("disk I/O error");
    expect(calls).toBe(1);
  });

  test("gives up after its patience with one line that says so", async () => {
    let clock = 0;
    const clockwork = {
      patienceMs: 60_000,
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
      },
    };
    const alwaysBusy = async () => {
      throw busy();
    };
    await expect(retryWhileBusy(alwaysBusy, clockwork)).rejects.toThrow(
      new DataDirError(
        "the database stayed locked for 60 s (a long migration or another sentinel command?); try again",
      ),
    );
  });
});

describe("patientStore", () => {
  /** A store whose meta.set is busy `times` times; transaction runs its callback once per call. */
  function flakyStore(times: number) {
    const calls = { set: 0 };
    let left = times;
    const meta = {
      get: async () => null,
      set: async () => {
        calls.set++;
        if (left-- > 0) throw busy();
      },
    };
    const store = {
      meta,
      transaction: async <T>(fn: (tx: { meta: typeof meta }) => Promise<T>) => fn({ meta }),
    } as unknown as Store;
    return { store, calls };
  }

  test("a repository call is retried while busy", async () => {
    const { store, calls } = flakyStore(2);
    await patientStore(store, noSleep).meta.set("k", "v");
    expect(calls.set).toBe(3);
  });

  test("a transaction is retried whole, as one unit", async () => {
    const { store, calls } = flakyStore(1);
    let runs = 0;
    await patientStore(store, noSleep).transaction(async (tx) => {
      runs++;
      await tx.meta.set("k", "v");
    });
    expect(runs).toBe(2);
    expect(calls.set).toBe(2);
  });
});

describe("accountName", () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-passwd-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test("names a uid from the passwd file, or says its number", () => {
    const passwd = join(dir, "passwd");
    writeFileSync(
      passwd,
      "root:x:0:0::/root:/bin/sh\nvpn-sentinel:x:998:998::/var/lib/vpn-sentinel:/usr/sbin/nologin\n",
    );
    expect(accountName(998, passwd)).toBe("vpn-sentinel");
    expect(accountName(0, passwd)).toBe("root");
    expect(accountName(1234, passwd)).toBe("uid 1234");
    expect(accountName(0, join(dir, "missing"))).toBe("uid 0");
  });
});
