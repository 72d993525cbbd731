import { Elysia } from "elysia";
import { authenticateBearer } from "../../auth/api-tokens.ts";
import { notFound } from "../../errors.ts";
import type { Store } from "../../store/index.ts";
import { presentClient, presentClientSummary } from "./presenter.ts";

export const clientsApi = (deps: { store: Store; now: () => number }) =>
  new Elysia({ name: "api.clients" })
    .derive({ as: "scoped" }, ({ request }) => ({
      principal: authenticateBearer(deps.store, request.headers.get("authorization"), "viewer", deps.now()),
    }))
    .get("/api/v1/clients", () => ({ clients: deps.store.clients.list().map((c) => presentClientSummary(c, deps.now())) }))
    .get("/api/v1/clients/:id", ({ params }) => {
      const c = deps.store.clients.get(params.id);
      if (!c) throw notFound("client");
      return presentClient(c, deps.now());
    });
