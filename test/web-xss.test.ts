/**
 * XSS: a client named `<img src=x onerror=alert(1)>` and an AS organisation containing
 * `</script>` must come out escaped on every page and in every SSE fragment.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createConsola } from "consola";
import { enrollClient } from "../src/server/enrollment.ts";
import { Web } from "../src/server/web/guard.ts";
import { overviewUpdate } from "../src/server/web/stream.tsx";
import {
  buildWebApp,
  postForm,
  type Session,
  sendReport,
  signIn,
  type WebApp,
  XSS_EXIT,
  XSS_NAME,
} from "./web-helpers.ts";

let w: WebApp;
let admin: Session;
let id = "";

beforeAll(async () => {
  w = await buildWebApp();
  const e = await enrollClient(w.store, w.keyring, XSS_NAME, "http://x", Date.now());
  id = e.id;
  // exit and resolver both in the hostile AS, so the org lands in verdicts, evidence, history and events
  await sendReport(w, e, {
    v4: XSS_EXIT,
    v4Answers: [
      ["<svg onload=alert(3)>", XSS_EXIT],
      ["icanhazip", XSS_EXIT],
    ],
    resolvers: [XSS_EXIT],
  });
  await sendReport(w, e, {
    v4: "203.0.113.7",
    v4Answers: [
      ["ipify", "203.0.113.7"],
      ["icanhazip", "203.0.113.7"],
    ],
  });
  await sendReport(w, e, { v4: XSS_EXIT, resolvers: [XSS_EXIT] });
  admin = await signIn(w.handle, "admin");
  // the name also reaches the audit log and the users page through failed sign-ins and tokens
  await postForm(w.handle, "/login", null, { name: XSS_NAME, password: "x" });
});
afterAll(() => w.close());

/** Elements a browser would build from this markup that could run script. */
async function dangerous(html: string): Promise<string[]> {
  const found: string[] = [];
  await new HTMLRewriter()
    .on("img", { element: () => void found.push("img") })
    .on("script", { element: (e) => void (e.getAttribute("src") ? null : found.push("inline script")) })
    .on("*", {
      element: (e) => {
        for (const [name] of e.attributes)
          if (name.toLowerCase().startsWith("on")) found.push(`${e.tagName}[${name}]`);
      },
    })
    .transform(new Response(html))
    .text();
  return found;
}

/**
 * Escaped means: parsing the markup yields no element that runs script, and the hostile text
 * never appears as markup. (Inside a quoted attribute `</script>` is inert text, and the org
 * does land in title attributes, so the check is on the parse, not on the bytes.)
 */
async function expectEscaped(html: string, where: string) {
  expect({ where, found: await dangerous(html) }).toEqual({ where, found: [] });
  expect({ where, raw: html.includes("<img src=x") || html.includes("<svg onload") }).toEqual({
    where,
    raw: false,
  });
  expect({ where, raw: />[^<]*<\/script><script>/.test(html) }).toEqual({ where, raw: false });
}

test("the hostile values really are in the state, and the check would catch them (the test is not vacuous)", async () => {
  const c = await w.store.clients.get(id);
  expect(JSON.stringify(c?.state)).toContain("</script>");
  expect(c?.name).toBe(XSS_NAME);
  expect(await dangerous(`<p>${XSS_NAME}</p>`)).toEqual(["img", "img[onerror]"]);
});

test("every page escapes the client name and the AS organisation", async () => {
  const pages = [
    "/",
    `/?q=${encodeURIComponent("<img")}`,
    `/clients/${id}`,
    `/clients/${id}/delete`,
    "/events",
    `/events?client=${id}`,
    `/events?q=${encodeURIComponent("<img")}`,
    "/analytics",
    "/analytics?period=90d",
    "/channels",
    "/audit",
    "/users",
    "/tokens",
  ];
  for (const path of pages) {
    const res = await w.handle(path, { headers: { cookie: admin.cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    await expectEscaped(html, path);
  }
  const overview = await (await w.handle("/", { headers: { cookie: admin.cookie } })).text();
  expect(overview).toContain("&lt;img src=x onerror=alert(1)&gt;");
  const detail = await (await w.handle(`/clients/${id}`, { headers: { cookie: admin.cookie } })).text();
  expect(detail).toContain("&lt;/script&gt;");
});

test("htmx fragments (list, live region, event list) are escaped too", async () => {
  const fragments = [
    ["/", "client-list"],
    [`/clients/${id}`, "client-live"],
    ["/events", "event-list"],
  ] as const;
  for (const [path, target] of fragments) {
    const html = await (
      await w.handle(path, { headers: { cookie: admin.cookie, "hx-request": "true", "hx-target": target } })
    ).text();
    expect(html).toContain(`id="${target}"`);
    await expectEscaped(html, `${path}#${target}`);
  }
});

test("the SSE fragment pushed for a report is escaped", async () => {
  const web = new Web({
    store: w.store,
    keyring: w.keyring,
    logger: createConsola({ level: -999 }),
    now: Date.now,
    broker: w.broker,
    publicUrl: "http://x",
    clientAddress: () => null,
  });
  const fragment = await overviewUpdate(web, [id]);
  expect(fragment).toContain(`id="row-${id}"`);
  expect(fragment).toContain("&lt;img src=x");
  await expectEscaped(fragment, "sse update");
});

test("the live stream itself delivers escaped fragments", async () => {
  const res = await w.handle("/events/stream?view=overview", {
    headers: { cookie: admin.cookie, accept: "text/event-stream" },
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  await reader.read(); // the greeting
  w.broker.publish("client.updated", { clientId: id, changed: true });
  let text = "";
  const deadline = Date.now() + 2000;
  while (!text.includes("event: update") && Date.now() < deadline) {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  expect(text).toContain("event: update");
  expect(text).toContain(`row-${id}`);
  await expectEscaped(text, "sse stream");
});

test("the enrollment page escapes a hostile name in the command and the snippets", async () => {
  const res = await postForm(w.handle, "/clients", admin, { name: "a'; rm -rf / #<b>" });
  expect(res.status).toBe(201);
  const html = await res.text();
  expect(html).not.toContain("<b>");
  expect(html).toContain("&lt;b&gt;");
});
