/**
 * The pages tell the truth (rendered by the real app over the real monitor): no green exit card
 * while the exit is home, the IPv6 exit in the header, the overview row and the exit history,
 * an offline client's verdicts greyed "as of" their time, human times in reasons, and a
 * private whoami answer shown as evidence, not as a disagreement.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { enrollClient } from "../src/server/enrollment.ts";
import { buildWebApp, type Session, sendReport, signIn, type WebApp } from "./web-helpers.ts";

const clock = { offset: 0 };
let w: WebApp;
let admin: Session;

beforeAll(async () => {
  w = await buildWebApp({ now: () => Date.now() + clock.offset });
  admin = await signIn(w.handle, "admin");
});
afterAll(() => w.close());

const enrolled = (name: string) => enrollClient(w.store, w.keyring, name, "http://x", Date.now());
const html = async (path: string) => (await w.handle(path, { headers: { cookie: admin.cookie } })).text();
/** The markup of the element that starts at `start` and ends before `end` (both literal). */
const between = (page: string, start: string, end: string) => {
  const from = page.indexOf(start);
  expect(from, start).toBeGreaterThanOrEqual(0);
  return page.slice(from, page.indexOf(end, from + start.length));
};
const verdictCard = (page: string, name: string) =>
  page.split("<article").find((a) => a.includes(`id="v-${name}"`)) ?? "";

describe("the exit card", () => {
  test("is never a green ok while the exit is the home address", async () => {
    const e = await enrolled("home-exit");
    await sendReport(w, e, { v4: "203.0.113.7" });
    const page = await html(`/clients/${e.id}`);
    const exit = verdictCard(page, "exit");
    expect(exit).toContain("verdict-red");
    expect(exit).not.toContain('class="badge badge-green"');
    expect(exit).toContain("home line");
    // the header's exit says in words that it is home
    expect(between(page, '<dl class="facts">', "</dl>")).toContain('<span class="tag tag-red">home</span>');
  });
});

describe("the IPv6 exit", () => {
  test("appears in the page header, the overview row and the exit history", async () => {
    const e = await enrolled("v6-leak");
    await sendReport(w, e, { v6: "2001:db8:1::5" });
    const page = await html(`/clients/${e.id}`);
    const header = between(page, '<dl class="facts">', "</dl>");
    expect(header).toContain("198.51.100.7");
    expect(header).toContain("2001:db8:1::5");
    const history = between(page, "<h3>Exit addresses</h3>", "</table>");
    expect(history).toContain("198.51.100.7, 2001:db8:1::5");

    const row = between(await html("/"), `<tr id="row-${e.id}"`, "</tr>");
    expect(row).toContain("198.51.100.7");
    expect(row).toContain("2001:db8:1::5");
    expect(row).toContain('<span class="tag tag-red">home</span>');
  });
});

describe("an offline client", () => {
  test("shows its last verdicts greyed, as of their time, and a reason with a human time", async () => {
    const e = await enrolled("gone-quiet");
    await sendReport(w, e, { intervalS: 30 });
    const reportedAt = (await w.store.clients.get(e.id))?.lastReportAt as number;
    clock.offset = 10 * 60_000;
    try {
      await w.monitor.sweep();
    } finally {
      clock.offset = 0; // pages render with real time again; the client stays offline
    }
    expect((await w.store.clients.get(e.id))?.liveness).toBe("offline");
    const hhmm = new Date(reportedAt).toISOString().slice(11, 16);

    const row = between(await html("/"), `<tr id="row-${e.id}"`, "</tr>");
    expect(row).toContain('class="chips chips-stale"');
    expect(row).toContain(`as of ${hhmm} UTC`);
    const reason = between(row, '<span class="reason">', "</span>");
    expect(reason).toContain(
      `Offline: no report since ${new Date(reportedAt).toISOString().slice(0, 10)} ${hhmm}`,
    );
    expect(reason).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/); // no raw ISO time

    const page = await html(`/clients/${e.id}`);
    expect(between(page, '<dl class="facts">', "</dl>")).toContain('class="chips chips-stale"');
    const bypass = verdictCard(page, "bypass");
    expect(bypass).toContain("verdict-stale");
    expect(bypass).toContain(`as of ${hhmm} UTC: the client is offline`);
  });

  test("an online client's chips are current, not stale", async () => {
    const e = await enrolled("still-here");
    await sendReport(w, e);
    const row = between(await html("/"), `<tr id="row-${e.id}"`, "</tr>");
    expect(row).toContain('<span class="chips">');
    expect(row).not.toContain("as of");
  });
});

describe("a private whoami answer", () => {
  test("is evidence of a private path, and the client stays green", async () => {
    const e = await enrolled("lan-client");
    await sendReport(w, e, {
      v4Consistent: false, // as a client before the private-answer rule sent it
      v4Answers: [
        ["ipify", "198.51.100.7"],
        ["icanhazip", "198.51.100.7"],
        ["http://sentinel.lan:8088/api/v1/whoami", "192.168.1.20"],
      ],
    });
    const row = between(await html("/"), `<tr id="row-${e.id}"`, "</tr>");
    expect(row).toContain("row-green");
    const exit = verdictCard(await html(`/clients/${e.id}`), "exit");
    expect(exit).toContain("verdict-green");
    expect(exit).toContain(
      "Not counted, reached over a private path (a LAN, a veth or loopback): http://sentinel.lan:8088/api/v1/whoami said 192.168.1.20.",
    );
  });
});
