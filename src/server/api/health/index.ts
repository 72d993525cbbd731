import { Elysia } from "elysia";
import type { Damage } from "../../storage-health.ts";
import type { Store } from "../../store/index.ts";

/**
 * /healthz: the process answers. /readyz: the database is writable and migrated, and no
 * request found it damaged since the start (`damage`, see StorageHealth).
 */
export const healthApi = (store: Store, startedAt: number, damage: () => Damage | null = () => null) =>
  new Elysia({ name: "api.health" })
    .get("/healthz", () => ({ status: "ok", uptime_s: Math.round((Date.now() - startedAt) / 1000) }))
    .get("/readyz", async ({ set }) => {
      const r = await store.readiness();
      const damaged = damage();
      const reason = damaged
        ? `the database file is damaged (${damaged.detail}, first seen ${new Date(damaged.since).toISOString()}): restore it from a backup (docs/operations.md, Recovery)`
        : r.reason;
      const ok = r.ok && !damaged;
      set.status = ok ? 200 : 503;
      if (!ok) set.headers["retry-after"] = "5";
      return {
        status: ok ? "ready" : "not_ready",
        schema_version: r.schemaVersion,
        expected_schema_version: r.expectedSchemaVersion,
        ...(reason ? { reason } : {}),
      };
    });
