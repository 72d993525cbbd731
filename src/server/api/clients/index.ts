import { Elysia } from "elysia";
import { parseDuration } from "../../../config/duration.ts";
import { auditActor, authenticateBearer, type Principal } from "../../auth/api-tokens.ts";
import type { Broker } from "../../broker.ts";
import { ApiError, notFound } from "../../errors.ts";
import { stretches, summariseUptime } from "../../history/uptime.ts";
import { readBodyLimited, requireJsonContentType } from "../../http.ts";
import { lockOf } from "../../monitor/networks.ts";
import type { ClientMonitor } from "../../monitor/service.ts";
import { validateSettingsChange } from "../../monitor/settings.ts";
import type { ClientRecord, Store, Transaction } from "../../store/index.ts";
import type { ServerWarnings } from "../../warnings.ts";
import { eventPage, parseEventQuery } from "../events/presenter.ts";
import { presentClient, presentClientSummary, presentNetworks } from "./presenter.ts";
import { parseSettingsPatch } from "./settings.ts";

export interface ClientsApiDeps {
  store: Store;
  now: () => number;
  monitor: Pick<ClientMonitor, "settingsChanged" | "learnedNetworks">;
  broker: Broker;
  /** server-wide problems (home unknown, ...): listed with every page of clients */
  warnings?: ServerWarnings;
  /** the caller's address, for the audit log */
  sourceIpOf?: (request: Request) => string | null;
}

const MAX_WINDOW_MS = 366 * 86_400_000;
export const CLIENT_PAGE_DEFAULT = 500;
export const CLIENT_PAGE_MAX = 1000;

/** ?cursor=&limit= for the client list; a bad value is a 400 naming it. */
function parseClientPage(q: Record<string, string | undefined>): { cursor: string | null; limit: number } {
  const limit = q.limit === undefined ? CLIENT_PAGE_DEFAULT : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > CLIENT_PAGE_MAX)
    throw new ApiError(400, "validation_failed", "invalid query parameters", [
      { path: "/limit", message: `must be 1 to ${CLIENT_PAGE_MAX}` },
    ]);
  return { cursor: q.cursor || null, limit };
}

export const clientsApi = (deps: ClientsApiDeps) => {
  const { store, now } = deps;
  /** An admin change and its audit entry commit together. */
  const audited = <T>(
    principal: Principal,
    request: Request,
    action: string,
    client: ClientRecord,
    detail: Record<string, unknown>,
    change: (tx: Transaction) => Promise<T>,
  ): Promise<T> =>
    store.transaction(async (tx) => {
      const result = await change(tx);
      await tx.auth.audit({
        at: now(),
        actor: auditActor(principal),
        action,
        target: client.name,
        detail: { client_id: client.id, ...detail },
        sourceIp: deps.sourceIpOf?.(request) ?? null,
      });
      return result;
    });
  const clientOr404 = async (id: string) => {
    const c = await store.clients.get(id);
    if (!c) throw notFound("client");
    return c;
  };
  return new Elysia({ name: "api.clients" })
    .derive(async ({ request }) => ({
      principal: await authenticateBearer(
        store,
        request.headers.get("authorization"),
        request.method === "GET" || request.method === "HEAD" ? "viewer" : "admin",
        now(),
      ),
    }))
    .get("/api/v1/clients", async ({ query }) => {
      const { cursor, limit } = parseClientPage(query as Record<string, string | undefined>);
      const page = await store.clients.page(cursor, limit);
      return {
        clients: page.map((c) => presentClientSummary(c, now())),
        next_cursor: page.length === limit ? (page.at(-1)?.name ?? null) : null,
        warnings: (await deps.warnings?.()) ?? [],
      };
    })
    .get("/api/v1/clients/:id", async ({ params }) => presentClient(await clientOr404(params.id), now()))
    .get("/api/v1/clients/:id/events", async ({ params, query }) => {
      await clientOr404(params.id);
      const q = parseEventQuery(query as Record<string, string | undefined>, params.id);
      return eventPage(await store.events.query(q), q.limit);
    })
    .get("/api/v1/clients/:id/uptime", async ({ params, query }) => {
      await clientOr404(params.id);
      const window = parseDuration(String(query.window ?? "24h"));
      if (window === null || window <= 0 || window > MAX_WINDOW_MS)
        throw new ApiError(400, "validation_failed", "invalid window", [
          { path: "/window", message: "must be a duration like 24h, 7d or 30d (at most 366d)" },
        ]);
      const to = now();
      const from = to - window;
      const rows = await store.history.range(params.id, from, to);
      const summary = summariseUptime(rows, await store.history.serverDowntimes(from, to), from, to);
      return {
        window: String(query.window ?? "24h"),
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        uptime: summary.uptime,
        protected: summary.protected,
        known_s: Math.round(summary.known_ms / 1000),
        unknown_s: Math.round(summary.unknown_ms / 1000),
        offline_s: Math.round(summary.offline_ms / 1000),
        status_s: Object.fromEntries(
          Object.entries(summary.status_ms).map(([k, v]) => [k, Math.round(v / 1000)]),
        ),
        // both families: an IPv6 exit through home is a leak of its own
        exits: stretches(
          rows,
          (r) => (r.exitIpv4 || r.exitIpv6 ? `${r.exitIpv4 ?? ""} ${r.exitIpv6 ?? ""}` : null),
          to,
        ).map((s) => {
          const [ipv4, ipv6] = s.value.split(" ");
          return {
            ip: ipv4 || null,
            ipv6: ipv6 || null,
            from: new Date(s.from).toISOString(),
            duration_s: Math.round(s.duration_ms / 1000),
          };
        }),
        resolvers: stretches(rows, (r) => r.resolvers, to).map((s) => ({
          ips: s.value.split(","),
          from: new Date(s.from).toISOString(),
          duration_s: Math.round(s.duration_ms / 1000),
        })),
      };
    })
    .get("/api/v1/clients/:id/networks", async ({ params }) => {
      const client = await clientOr404(params.id);
      return presentNetworks(await deps.monitor.learnedNetworks(client.id), client.settings);
    })
    .post("/api/v1/clients/:id/lock", async ({ params, request, principal }) => {
      const client = await clientOr404(params.id);
      const lock = lockOf(await deps.monitor.learnedNetworks(client.id));
      if (lock === null)
        throw new ApiError(
          409,
          "nothing_learned",
          "this client has no exit network in its last 30 days yet: nothing to lock to",
        );
      const checked = validateSettingsChange(lock);
      if (!checked.ok)
        throw new ApiError(
          409,
          "lock_too_large",
          "the client used too many exit networks to lock to",
          checked.errors,
        );
      await audited(principal, request, "client.lock", client, { changed: checked.change }, (tx) =>
        tx.clients.updateSettings(client.id, { ...client.settings, ...checked.change }),
      );
      await deps.monitor.settingsChanged(client.id);
      return presentClient(await clientOr404(client.id), now());
    })
    .patch(
      "/api/v1/clients/:id",
      async ({ params, request, principal }) => {
        const client = await clientOr404(params.id);
        requireJsonContentType(request);
        let body: unknown;
        try {
          body = JSON.parse(await readBodyLimited(request, 16 * 1024));
        } catch (e) {
          if (e instanceof ApiError) throw e;
          throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
        }
        const parsed = parseSettingsPatch(body);
        if (!parsed.ok) throw new ApiError(400, "validation_failed", "invalid settings", parsed.errors);
        await audited(principal, request, "client.settings", client, { changed: parsed.patch }, (tx) =>
          tx.clients.updateSettings(client.id, { ...client.settings, ...parsed.patch }),
        );
        await deps.monitor.settingsChanged(client.id);
        return presentClient(await clientOr404(client.id), now());
      },
      { parse: "none" },
    )
    .delete("/api/v1/clients/:id", async ({ params, set, principal, request }) => {
      const client = await clientOr404(params.id);
      await audited(principal, request, "client.delete", client, {}, (tx) => tx.clients.remove(client.id));
      deps.broker.publish("client.changed", { clientId: client.id });
      set.status = 204;
      return "";
    });
};
