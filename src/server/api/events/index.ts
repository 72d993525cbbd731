import { Elysia } from "elysia";
import { authenticateBearer } from "../../auth/api-tokens.ts";
import type { Store } from "../../store/index.ts";
import { eventPage, parseEventQuery } from "./presenter.ts";

/** GET /api/v1/events?since=&kind=&client=&cursor=&limit= (newest first, cursor pagination). */
export const eventsApi = (deps: { store: Store; now: () => number }) =>
  new Elysia({ name: "api.events" })
    .derive(async ({ request }) => ({
      principal: await authenticateBearer(
        deps.store,
        request.headers.get("authorization"),
        "viewer",
        deps.now(),
      ),
    }))
    .get("/api/v1/events", async ({ query }) => {
      const q = parseEventQuery(query as Record<string, string | undefined>);
      return eventPage(await deps.store.events.query(q), q.limit);
    });
