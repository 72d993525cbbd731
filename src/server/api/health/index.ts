import { Elysia } from "elysia";
import { keyMismatch } from "../../auth/key-fingerprint.ts";
import type { Keyring } from "../../auth/keyring.ts";
import type { Damage } from "../../storage-health.ts";
import type { Store } from "../../store/index.ts";

/**
 * /healthz: the process answers. /readyz: the database answers (SQLite: takes a write) and is
 * migrated, and no request found it damaged since the start (`damage`, see StorageHealth); on
 * PostgreSQL also that this replica's server key is the database's. It says which role the
 * replica has (leader: runs the time-driven work; follower: takes reports and serves pages).
 */
export const healthApi = (
  store: Store,
  startedAt: number,
  damage: () => Damage | null = () => null,
  keyring?: Pick<Keyring, "currentId">,
) =>
  new Elysia({ name: "api.health" })
    .get("/healthz", () => ({ status: "ok", uptime_s: Math.round((Date.now() - startedAt) / 1000) }))
    .get("/readyz", async ({ set }) => {
      const r = await store.readiness();
      const damaged = damage();
      const reason = damaged
        ? `the database file is damaged (${damaged.detail}, first seen ${new Date(damaged.since).toISOString()}): restore it from a backup (docs/operations.md, Recovery)`
        : (r.reason ??
          (r.ok && keyring && store.engine === "postgres"
            ? await keyMismatch(store.meta, keyring.currentId).catch(() => null)
            : null));
      const ok = r.ok && !reason;
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
