import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../server/store/index.ts";
import { DataDirError, patientStore, retryWhileBusy } from "./data-dir.ts";
import { accountName } from "./permissions.ts";

const busy = (code = "SQLITE_BUSY") => Object.assign(new Error("database is locked"), { code });
const noSleep = { patienceMs: 1000, sleep: () => {}, now: () => 0 };

describe("retryWhileBusy", () => {
  test("runs again while SQLite says busy or locked, then returns", () => {
    const codes = ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"];
    let calls = 0;
    const result = retryWhileBusy(() => {
      const code = codes[calls++];
      if (code) throw busy(code);
      return "done";
    }, noSleep);
    expect(result).toBe("done");
    expect(calls).toBe(4);
  });

  test("other errors go through at once", () => {
    let calls = 0;
    expect(() =>
      retryWhileBusy(() => {
        calls++;
        throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
      }, noSleep),
    ).toThrow("disk I/O error");
    expect(calls).toBe(1);
  });

  test("gives up after its patience with one line that says so", () => {
    let clock = 0;
    const clockwork = {
      patienceMs: 60_000,
      now: () => clock,
      sleep: (ms: number) => {
        clock += ms;
      },
    };
    const alwaysBusy = () => {
      throw busy();
    };
    expect(() => retryWhileBusy(alwaysBusy, clockwork)).toThrow(
      new DataDirError(
        "the database stayed locked for 60 s (a long migration or another sentinel command?); try again",
      ),
    );
  });
});

describe("patientStore", () => {
  /** A store whose meta.set is busy `times` times; transaction runs its callback. */
  function flakyStore(times: number) {
    const calls = { set: 0, open: 0 };
    let left = times;
    const store = {
      meta: {
        get: () => null,
        set: () => {
          calls.set++;
          if (left-- > 0) throw busy();
        },
      },
      transaction: <T>(fn: () => T) => fn(),
    } as unknown as Store;
    return { store, calls };
  }

  test("a repository call and the open are retried while busy", () => {
    const { store, calls } = flakyStore(2);
    let opens = 0;
    const patient = patientStore(() => {
      if (opens++ === 0) throw busy();
      return store;
    }, noSleep);
    patient.meta.set("k", "v");
    expect(opens).toBe(2);
    expect(calls.set).toBe(3);
  });

  test("inside a transaction only the transaction is retried, as one unit", () => {
    const { store, calls } = flakyStore(1);
    const patient = patientStore(() => store, noSleep);
    let runs = 0;
    patient.transaction(() => {
      runs++;
      patient.meta.set("k", "v");
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
