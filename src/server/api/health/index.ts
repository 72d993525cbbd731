import { Elysia } from "elysia";
import type { Store } from "../../store/index.ts";

/** /healthz: the process answers. /readyz: the database is writable and migrated. */
export const healthApi = (store: Store, startedAt: number) =>
  new Elysia({ name: "api.health" })
    .get("/healthz", () => ({ status: "ok", uptime_s: Math.round((Date.now() - startedAt) / 1000) }))
    .get("/readyz", async ({ set }) => {
      const r = await store.readiness();
      set.status = r.ok ? 200 : 503;
      if (!r.ok) set.headers["retry-after"] = "5";
      return {
        status: r.ok ? "ready" : "not_ready",
        schema_version: r.schemaVersion,
        expected_schema_version: r.expectedSchemaVersion,
        ...(r.reason ? { reason: r.reason } : {}),
      };
    });
