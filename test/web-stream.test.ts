/** The overview's event stream under a burst of flips: rows update at once, the list refetch is throttled. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { buildWebApp, signIn, type WebApp } from "./web-helpers.ts";

let w: WebApp;
beforeAll(async () => {
  w = await buildWebApp();
});
afterAll(() => w.close());

test("a burst of status flips sends one list refetch per 2 s per viewer, while row updates keep flowing", async () => {
  const viewer = await signIn(w.handle, "viewer");
  await w.store.clients.create({ id: "c_burst", name: "burst", createdAt: Date.now(), secretEnc: "x" });
  const res = await w.handle("/events/stream?view=overview", {
    headers: { cookie: viewer.cookie, accept: "text/event-stream" },
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
    }
  })();
  const count = (event: string) => text.split(`event: ${event}\n`).length - 1;

  const started = Date.now();
  while (Date.now() - started < 1500) {
    w.broker.publish("client.updated", { clientId: "c_burst", changed: true });
    await Bun.sleep(50);
  }
  expect(count("clients")).toBe(1);
  expect(count("update")).toBeGreaterThanOrEqual(5);
  await Bun.sleep(800); // past the 2 s window: the pending refetch goes out once
  expect(count("clients")).toBe(2);
  await reader.cancel();
  await pump.catch(() => {});
});

test("dashboards refetching the same list within a second share one render; a new client shows at once", async () => {
  const viewers = await Promise.all([signIn(w.handle, "viewer"), signIn(w.handle, "viewer")]);
  let reads = 0;
  const summaries = w.store.clients.summaries.bind(w.store.clients);
  w.store.clients.summaries = () => {
    reads++;
    return summaries();
  };
  const list = async (cookie: string) =>
    (
      await w.handle("/?status=all", {
        headers: { cookie, "hx-request": "true", "hx-target": "client-list" },
      })
    ).text();

  const [a, b] = await Promise.all(viewers.map((v) => list(v.cookie)));
  expect(a).toBe(b as string);
  expect(reads).toBe(1);

  await w.store.clients.create({ id: "c_new", name: "brand-new", createdAt: Date.now(), secretEnc: "x" });
  w.broker.publish("client.changed", { clientId: "c_new" }); // as the enrol route does
  expect(await list((viewers[0] as { cookie: string }).cookie)).toContain("brand-new");
  expect(reads).toBe(2);
  w.store.clients.summaries = summaries;
});
