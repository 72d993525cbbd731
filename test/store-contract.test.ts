/**
 * The store contract (test/helpers/store-contract.ts) against every engine: SQLite always,
 * PostgreSQL when SENTINEL_TEST_POSTGRES names a server (.ci/postgres.sh start prints one).
 */
import { describe, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { openStore } from "../src/server/store/index.ts";
import { openPostgresStore } from "../src/server/store/postgres/index.ts";
import type { Store } from "../src/server/store/types.ts";
import { createTestDatabase, openTestPostgresStore, TEST_POSTGRES } from "./helpers/postgres.ts";
import { COUNT_RECENT_NO_EXCLUDES, describeStore } from "./helpers/store-contract.ts";

describeStore("SQLite", {
  open: () => openStore({ dataDir: ":memory:" }),
  async openShared(count) {
    const dir = mkdtempSync(join(tmpdir(), "sentinel-contract-"));
    const stores: Store[] = [];
    for (let i = 0; i < count; i++) stores.push(await openStore({ dataDir: dir }));
    return {
      stores,
      async close() {
        for (const s of stores) await s.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  replicas: false,
  // `kind NOT IN (NULL)` is never true: reported to the lead (src/server/store/sqlite/outbox.ts)
  knownBugs: new Set([COUNT_RECENT_NO_EXCLUDES]),
});

if (TEST_POSTGRES) {
  /** which database each shared store is on, to end its leader's session from outside */
  const databaseOf = new Map<Store, string>();

  describeStore("PostgreSQL", {
    open: () => openTestPostgresStore(),
    async openShared(count) {
      const db = await createTestDatabase();
      const stores: Store[] = [];
      for (let i = 0; i < count; i++) {
        const s = await openPostgresStore(db.url, { poolSize: 3, replicaId: `replica-${i}` });
        databaseOf.set(s, db.url);
        stores.push(s);
      }
      return {
        stores,
        async close() {
          for (const s of stores) await s.close().catch(() => {});
          await db.drop();
        },
      };
    },
    replicas: true,
    async killLeaderSession(store) {
      const url = databaseOf.get(store);
      if (!url) throw new Error("not a shared store");
      const admin = new SQL(url, { max: 1 });
      try {
        const [lease] = await admin`SELECT backend_pid FROM leader_lease`;
        await admin`SELECT pg_terminate_backend(${lease.backend_pid})`;
      } finally {
        await admin.close();
      }
    },
  });
} else {
  describe("store contract: PostgreSQL", () => {
    test.skip("needs SENTINEL_TEST_POSTGRES (see .ci/postgres.sh)", () => {});
  });
}
