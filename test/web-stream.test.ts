/**
 * The event stream: under a burst of flips rows update at once and the list refetch is throttled;
 * a page's stream catches up on what changed while the page loaded; shared renders end at a flip.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { buildWebApp, signIn, type WebApp } from "./web-helpers.ts";

let w: WebApp;
beforeAll(async () => {
  w = await buildWebApp();
});
afterAll(() => w.close());

/** Opens a stream and collects its text; `stop` cancels it. */
async function openStream(cookie: string, query: string, handle = w.handle) {
  const res = await handle(`/events/stream?${query}`, {
    headers: { cookie, accept: "text/event-stream" },
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const s = { text: "", stop: async () => {} };
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      s.text += decoder.decode(value, { stream: true });
    }
  })();
  s.stop = async () => {
    await reader.cancel();
    await pump.catch(() => {});
  };
  return s;
}

test("a burst of status flips sends one list refetch per 2 s per viewer, while row updates keep flowing", async () => {
  const viewer = await signIn(w.handle, "viewer");
  await w.store.clients.create({ id: "c_burst", name: "burst", createdAt: Date.now(), secretEnc: "x" });
  const stream = await openStream(viewer.cookie, "view=overview");
  const count = (event: string) => stream.text.split(`event: ${event}\n`).length - 1;

  const started = Date.now();
  while (Date.now() - started < 1500) {
    w.broker.publish("client.updated", { clientId: "c_burst", changed: true });
    await Bun.sleep(50);
  }
  expect(count("clients")).toBe(1);
  expect(count("update")).toBeGreaterThanOrEqual(5);
  await Bun.sleep(800); // past the 2 s window: the pending refetch goes out once
  expect(count("clients")).toBe(2);
  await stream.stop();
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

test("a change between a page's reading and its stream is not lost: the stream starts with it", async () => {
  const viewer = await signIn(w.handle, "viewer");
  await w.store.clients.create({ id: "c_racing", name: "racing", createdAt: Date.now(), secretEnc: "x" });
  const page = await (await w.handle("/", { headers: { cookie: viewer.cookie } })).text();
  const since = /sse-connect="\/events\/stream\?view=overview&since=([^"&]+)"/.exec(page)?.[1];
  expect(since).toBeDefined();
  // the sweeper marks the client offline after the page read it, before its stream subscribed
  w.broker.publish("client.updated", { clientId: "c_racing", changed: true });

  const late = await openStream(viewer.cookie, `view=overview&since=${since}`);
  const unaware = await openStream(viewer.cookie, "view=overview");
  await Bun.sleep(300);
  expect(late.text).toContain('id="row-c_racing"');
  expect(late.text).toContain("event: clients\n");
  expect(unaware.text).not.toContain("event: "); // without a mark it has nothing to catch up on
  await Promise.all([late.stop(), unaware.stop()]);
});

test("a stream that cannot tell what its page missed (another replica's mark) has the page refetch once", async () => {
  const viewer = await signIn(w.handle, "viewer");
  const streams = await Promise.all([
    openStream(viewer.cookie, "view=overview&since=0badc0de.12"),
    openStream(viewer.cookie, "view=events&since=0badc0de.12"),
  ]);
  await Bun.sleep(300);
  const [overview, events] = streams as [{ text: string }, { text: string }];
  expect(overview.text.split("event: clients\n").length - 1).toBe(1);
  expect(events.text.split("event: events\n").length - 1).toBe(1);
  await Promise.all(streams.map((s) => s.stop()));
});

test("a flip clears the shared list and counts: the refetch it causes shows the flip, not a render from before it", async () => {
  const t = Date.now();
  const app = await buildWebApp({ now: () => t }); // a frozen clock: only a flip may end the sharing
  const viewer = await signIn(app.handle, "viewer");
  await app.store.clients.create({ id: "c_flip", name: "flipping", createdAt: t, secretEnc: "x" });
  let reads = 0;
  const summaries = app.store.clients.summaries.bind(app.store.clients);
  app.store.clients.summaries = () => {
    reads++;
    return summaries();
  };
  let counts: Record<string, number> = { green: 1 };
  app.store.clients.countByStatus = async () => counts;
  const list = async () =>
    (
      await app.handle("/?status=all", {
        headers: { cookie: viewer.cookie, "hx-request": "true", "hx-target": "client-list" },
      })
    ).text();

  await list();
  await list();
  app.broker.publish("client.updated", { clientId: "c_flip", changed: false });
  await list();
  expect(reads).toBe(1); // shared, also past a report that changed nothing
  app.broker.publish("client.updated", { clientId: "c_flip", changed: true });
  await list();
  expect(reads).toBe(2);

  const stream = await openStream(viewer.cookie, "view=overview", app.handle);
  app.broker.publish("client.updated", { clientId: "c_flip", changed: false });
  await Bun.sleep(250);
  expect(stream.text).toContain('data-red="0"');
  counts = { red: 1 };
  app.broker.publish("client.updated", { clientId: "c_flip", changed: true });
  await Bun.sleep(250);
  expect(stream.text).toContain('data-red="1"');
  await stream.stop();
  await app.close();
});

test("a row or counts read while a flip happened are sent once, not kept for the flip's own update", async () => {
  const t = Date.now();
  const app = await buildWebApp({ now: () => t }); // one second throughout: only a change ends the sharing
  const viewer = await signIn(app.handle, "viewer");
  await app.store.clients.create({ id: "c_overtaken", name: "overtaken", createdAt: t, secretEnc: "x" });
  const gates = { rows: null as Promise<void> | null, counts: null as Promise<void> | null };
  const reads = { rows: 0, counts: 0 };
  /** the next read of `what` is held, after it has read, until the returned function is called */
  const hold = (what: keyof typeof gates) => {
    let release!: () => void;
    gates[what] = new Promise<void>((r) => {
      release = r;
    });
    return () => {
      gates[what] = null;
      release();
    };
  };
  const getMany = app.store.clients.getMany.bind(app.store.clients);
  app.store.clients.getMany = async (ids) => {
    reads.rows++;
    const records = await getMany(ids);
    await gates.rows;
    return records;
  };
  const countByStatus = app.store.clients.countByStatus.bind(app.store.clients);
  app.store.clients.countByStatus = async () => {
    reads.counts++;
    const counts = await countByStatus();
    await gates.counts;
    return counts;
  };
  const stream = await openStream(viewer.cookie, "view=overview", app.handle);
  const overtaken = async (what: keyof typeof gates, first: () => void) => {
    const release = hold(what);
    first();
    await Bun.sleep(200); // the stream's read is under way, held
    app.broker.publish("client.updated", { clientId: "c_overtaken", changed: true }); // a flip
    release();
    await Bun.sleep(300);
  };

  await overtaken("rows", () =>
    app.broker.publish("client.updated", { clientId: "c_overtaken", changed: false }),
  );
  expect(reads.rows).toBe(2); // the flip's update read the row again
  await overtaken("counts", () =>
    app.broker.publish("client.updated", { clientId: "c_overtaken", changed: true }),
  );
  expect(reads.counts).toBe(3); // ... and the counts
  expect(stream.text.split("event: update\n").length - 1).toBe(4);
  await stream.stop();
  await app.close();
});
