import { Elysia } from "elysia";
import { keyMismatch } from "../../auth/key-fingerprint.ts";
import type { Keyring } from "../../auth/keyring.ts";
import type { Store } from "../../store/index.ts";

/**
 * /healthz: the process answers. /readyz: the database answers (SQLite: takes a write) and is
 * migrated; on PostgreSQL also that this replica's server key is the database's, and which
 * role the replica has (leader: runs the time-driven work; follower: takes reports).
 */
export const healthApi = (store: Store, startedAt: number, keyring?: Pick<Keyring, "currentId">) =>
  new Elysia({ name: "api.health" })
    .get("/healthz", () => ({ status: "ok", uptime_s: Math.round((Date.now() - startedAt) / 1000) }))
    .get("/readyz", async ({ set }) => {
      const r = await store.readiness();
      const reason =
        r.reason ??
        (r.ok && keyring && store.engine === "postgres"
          ? await keyMismatch(store.meta, keyring.currentId).catch(() => null)
          : null);
      const ok = r.ok && reason === null;
      set.status = ok ? 200 : 503;
      if (!ok) set.headers["retry-after"] = "5";
      return {
        status: ok ? "ready" : "not_ready",
        schema_version: r.schemaVersion,
        expected_schema_version: r.expectedSchemaVersion,
        database: { engine: store.engine, reachable: r.schemaVersion >= 0 },
        role: store.leadership.isLeader() ? "leader" : "follower",
        ...(reason ? { reason } : {}),
      };
    });
