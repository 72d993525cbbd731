/**
 * Every event kind is documented (docs/verdicts.md) and has words of its own on the dashboard,
 * including the server-wide ones (uplink down/up, server started) that have no client.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { KIND_TEXT } from "../src/protocol/event-text.ts";
import { EVENT_KINDS } from "../src/protocol/events.ts";
import { MESSAGE_FORMATS, MessageTemplates } from "../src/server/notify/templates.ts";
import { sample } from "./helpers/notify.ts";
import { quietLogger } from "./helpers/server.ts";
import { buildWebApp, type Session, signIn, type WebApp } from "./web-helpers.ts";

describe("docs/verdicts.md", () => {
  test("documents every event kind in its events table", async () => {
    const doc = await Bun.file(join(import.meta.dir, "../docs/verdicts.md")).text();
    const table = doc.slice(doc.indexOf("## Events (flips)"));
    const missing = EVENT_KINDS.filter((kind) => !table.includes(`| \`${kind}\``));
    expect(missing).toEqual([]);
  });
});

describe("one wording table for dashboard and alerts", () => {
  test("every kind has a dashboard title and an alert headline, and every channel's format reads the table", () => {
    const templates = MessageTemplates.load({ publicUrl: null, timeZone: "UTC" }, quietLogger());
    for (const kind of EVENT_KINDS) {
      expect(KIND_TEXT[kind].title.length, kind).toBeGreaterThan(0);
      expect(KIND_TEXT[kind].title, kind).not.toBe(kind);
      const n = sample(kind, { client: { id: "c1", name: "laptop" }, to: "offline" });
      // the formats that carry the headline (text and markdown are bodies under a title)
      for (const format of MESSAGE_FORMATS.filter((f) => f !== "text" && f !== "markdown"))
        expect(templates.render(format, n), `${kind} ${format}`).toContain(KIND_TEXT[kind].headline);
    }
  });
});

describe("the events page titles server-wide events", () => {
  let w: WebApp;
  let admin: Session;
  beforeAll(async () => {
    w = await buildWebApp();
    admin = await signIn(w.handle, "admin");
    const at = Date.now();
    for (const kind of ["server.started", "uplink.down", "uplink.up"] as const)
      w.store.events.append({
        clientId: null,
        kind,
        from: null,
        to: null,
        evidence: { reason: `${kind} happened` },
        at,
        suppressed: false,
      });
  });
  afterAll(() => w.close());

  test("Server started, Server uplink down, Server uplink back, never the raw kind", async () => {
    const page = await (await w.handle("/events", { headers: { cookie: admin.cookie } })).text();
    // the event rows, not the kind filter's options (which name every kind too)
    const list = page.slice(page.indexOf('id="event-list"'));
    const titles = [...list.matchAll(/<span class="sev-dot" aria-hidden="true"><\/span><span>([^<]*)</g)].map(
      (m) => m[1],
    );
    expect(titles.sort()).toEqual(["Server started", "Server uplink back", "Server uplink down"]);
  });
});
