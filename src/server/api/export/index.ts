/** GET /api/v1/export and POST /api/v1/import (admin token). See service.ts for what travels. */
import { Elysia } from "elysia";
import { auditActor, authenticateBearer, type Principal } from "../../auth/api-tokens.ts";
import type { Keyring } from "../../auth/keyring.ts";
import type { Broker } from "../../broker.ts";
import { ApiError } from "../../errors.ts";
import { readBodyLimited, requireJsonContentType } from "../../http.ts";
import type { Store } from "../../store/index.ts";
import { auditExport, exportData, ImportError, importData, parseExport } from "./service.ts";

export interface ExportApiDeps {
  store: Store;
  keyring: Keyring;
  now: () => number;
  broker: Broker;
  /** the caller's address, for the audit log */
  sourceIpOf?: (request: Request) => string | null;
}

const MAX_IMPORT_BYTES = 1 << 20;

export const exportApi = (deps: ExportApiDeps) => {
  const { store, keyring, now } = deps;
  const auditedBy = (principal: Principal, request: Request) => ({
    actor: auditActor(principal),
    sourceIp: deps.sourceIpOf?.(request) ?? null,
  });
  return new Elysia({ name: "api.export" })
    .derive(async ({ request }) => ({
      principal: await authenticateBearer(store, request.headers.get("authorization"), "admin", now()),
    }))
    .get("/api/v1/export", async ({ set, principal, request }) => {
      set.headers["cache-control"] = "no-store";
      set.headers["content-disposition"] =
        `attachment; filename="sentinel-export-${new Date(now()).toISOString().slice(0, 10)}.json"`;
      const doc = await exportData(store, keyring, now());
      await auditExport(store, doc, auditedBy(principal, request), now());
      return doc;
    })
    .post(
      "/api/v1/import",
      async ({ request, principal }) => {
        requireJsonContentType(request);
        const body = await readBodyLimited(request, MAX_IMPORT_BYTES);
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
        }
        try {
          const doc = parseExport(parsed);
          const result = await importData(store, keyring, doc, auditedBy(principal, request));
          for (const c of doc.clients)
            if (!result.skipped.clients.includes(c.name))
              deps.broker.publish("client.changed", { clientId: c.id });
          for (const c of doc.notify_channels)
            if (!result.skipped.notify_channels.includes(c.url))
              deps.broker.publish("channels.changed", { id: c.id });
          return result;
        } catch (e) {
          if (e instanceof ImportError)
            throw new ApiError(
              e.code === "server_key_mismatch" ? 409 : 400,
              e.code,
              e.message,
              e.path ? [{ path: e.path, message: e.message }] : undefined,
            );
          throw e;
        }
      },
      { parse: "none" },
    );
};
