/** Channel URL parsing, routing filters and the display form: no secret survives redaction. */
import { describe, expect, test } from "bun:test";
import { checkNotifyUrl } from "./channels/urls.ts";
import { routeMatches } from "./filter.ts";
import { parseClientLimit } from "./limit.ts";
import { redactedUrl, unmaskUrl } from "./url.ts";

const SECRET = "hunter2secret";
const WHSEC = `whsec_${Buffer.from(`${SECRET}${SECRET}`).toString("base64")}`;

describe("every scheme", () => {
  const examples: [string, string][] = [
    [`ntfy://ann:${SECRET}@ntfy.example:8080/alerts`, "ntfy://ann:***@ntfy.example:8080/alerts"],
    [`ntfys://ntfy.sh/alerts?token=${SECRET}`, "ntfys://ntfy.sh/alerts?token=***"],
    [`gotify://push.example/${SECRET}`, "gotify://push.example/***"],
    [`gotifys://push.example/sub/${SECRET}?min=red`, "gotifys://push.example/sub/***?min=red"],
    [
      `discord+https://discord.com/api/webhooks/123/${SECRET}`,
      "discord+https://discord.com/api/webhooks/123/***",
    ],
    [
      `slack+https://hooks.slack.com/services/T1/B2/${SECRET}`,
      "slack+https://hooks.slack.com/services/T1/B2/***",
    ],
    [
      `smtp://alerts:${SECRET}@mail.example:587/?from=a@example.org&to=b@example.org,c@example.org&starttls=required`,
      "smtp://alerts:***@mail.example:587/?from=a@example.org&to=b@example.org,c@example.org&starttls=required",
    ],
    [
      `smtps://a:${SECRET}@mail.example/?from=a@example.org&to=b@example.org`,
      "smtps://a:***@mail.example/?from=a@example.org&to=b@example.org",
    ],
    [`webhook+https://hooks.example/in?secret=${WHSEC}`, "webhook+https://hooks.example/in?secret=***"],
    [`webhook+http://192.0.2.10:8080/in`, "webhook+http://192.0.2.10:8080/in"],
    [`mqtt://ha:${SECRET}@broker.lan/home/vpn`, "mqtt://ha:***@broker.lan/home/vpn"],
    [`mqtts://broker.lan:8883?discovery=off`, "mqtts://broker.lan:8883?discovery=off"],
    [
      `apprise+https://apprise.example/notify/${SECRET}?tag=vpn`,
      "apprise+https://apprise.example/notify/***?tag=vpn",
    ],
    [
      `tgram://123456:AAE${SECRET}-xxxxxxxxxxxxxx/-100123:7?only=*.started`,
      "tgram://123456:***/-100123:7?only=*.started",
    ],
  ];
  test.each(examples)("%s parses and shows as %s", (url, shown) => {
    const r = checkNotifyUrl(url);
    expect(r).not.toHaveProperty("error");
    expect(redactedUrl(url)).toBe(shown);
    expect(redactedUrl(url)).not.toContain(SECRET);
  });

  test("what is missing or wrong is named, without the secret", () => {
    const err = (u: string) => (checkNotifyUrl(u) as { error: string }).error;
    expect(err(`ftp://x:${SECRET}@h/`)).toStartWith('unknown scheme "ftp://"');
    expect(err(`ntfy://:${SECRET}@/t`)).not.toContain(SECRET);
    expect(err("gotify://push.example")).toBe(
      "gotify://push.example: needs an application token: gotifys://host/APP_TOKEN",
    );
    expect(err("ntfy://h/bad topic!")).toContain("topic must be");
    expect(err("apprise+https://a.example/x")).toContain("needs the Apprise API's notify URL with a key");
    expect(err("mqtt://b/a/+/c")).toContain("must not contain +, #");
    expect(err(`tgram://123456:${SECRET}xxxxxxxxxxxx`)).toBe(
      "tgram://123456:***: needs a chat: tgram://BOT_TOKEN/CHAT_ID[:THREAD]",
    );
    expect(err("ntfy://h/t?min=loud")).toBe("ntfy://h/t?min=loud: ?min=loud must be red, yellow or info");
    expect(err("ntfy://h/t?tags=a b")).toContain("is not a tag");
    expect(err("not a url")).toContain("is not a URL");
  });
});

describe("routing filters", () => {
  const filter = (q: string) => {
    const r = checkNotifyUrl(`ntfy://h/t?${q}`) as { url: { filter: Parameters<typeof routeMatches>[0] } };
    return r.url.filter;
  };
  const alpha = { id: "a", name: "alpha", tags: ["home"] };
  test("?only with wildcards, reminders by their problem", () => {
    const f = filter("only=*.started,client.offline");
    expect(routeMatches(f, { kind: "bypass.started", severity: "red", client: alpha })).toBe(true);
    expect(routeMatches(f, { kind: "bypass.ended", severity: "green", client: alpha })).toBe(false);
    expect(
      routeMatches(f, { kind: "reminder", about: "dns_leak.started", severity: "red", client: alpha }),
    ).toBe(true);
  });
  test("?min counts a resolved message as its problem", () => {
    const red = filter("min=red");
    expect(routeMatches(red, { kind: "bypass.ended", severity: "green", client: alpha })).toBe(true);
    expect(routeMatches(red, { kind: "dns.suspect", severity: "yellow", client: alpha })).toBe(false);
    expect(
      routeMatches(filter("min=yellow"), { kind: "client.online", severity: "green", client: alpha }),
    ).toBe(true);
    expect(
      routeMatches(filter("min=yellow"), { kind: "exit.changed", severity: "info", client: alpha }),
    ).toBe(false);
  });
  test("?clients and ?tags hold back other clients, never server-wide notifications", () => {
    const f = filter("clients=alpha,nas");
    expect(
      routeMatches(f, {
        kind: "client.offline",
        severity: "red",
        client: { id: "b", name: "beta", tags: [] },
      }),
    ).toBe(false);
    expect(routeMatches(f, { kind: "uplink.down", severity: "red", client: null })).toBe(true);
    // tags compare without regard to case: the filter and the settings both keep lower case
    const tagged = filter("tags=Home,office");
    expect(tagged.tags).toEqual(["home", "office"]);
    expect(routeMatches(tagged, { kind: "client.offline", severity: "red", client: alpha })).toBe(true);
    expect(
      routeMatches(tagged, {
        kind: "client.offline",
        severity: "red",
        client: { id: "b", name: "b", tags: ["family"] },
      }),
    ).toBe(false);
    expect(routeMatches(tagged, { kind: "uplink.down", severity: "red", client: null })).toBe(true);
    expect(checkNotifyUrl("ntfy://h/t?tags=a%20b")).toEqual({
      error: "ntfy://h/t?tags=a%20b: ?tags=a b is not a tag (1-64 letters, digits, _ . -)",
    });
  });
});

describe("unmaskUrl: editing a masked URL keeps the stored secrets, on the same service only", () => {
  test("every kind of secret a mask hides comes back from the stored URL", () => {
    const cases: [stored: string, edited: string, merged: string][] = [
      [
        `ntfy://ann:${SECRET}@ntfy.example/alerts`,
        "ntfy://ann:***@ntfy.example/alerts?min=red",
        `ntfy://ann:${SECRET}@ntfy.example/alerts?min=red`,
      ],
      [
        `ntfys://ntfy.sh/alerts?token=${SECRET}&tags=home`,
        "ntfys://ntfy.sh/other?token=***",
        `ntfys://ntfy.sh/other?token=${SECRET}`,
      ],
      [`gotifys://push.example/sub/${SECRET}`, "gotifys://push.example/sub/***?only=bypass.*", ""],
      [
        `tgram://123456:${SECRET}AAAAAAAAAAAAAAAAAAAA/-100:7`,
        "tgram://123456:***/-100:7?min=red",
        `tgram://123456:${SECRET}AAAAAAAAAAAAAAAAAAAA/-100:7?min=red`,
      ],
      [`webhook+https://h.example/hook?secret=${WHSEC}`, "webhook+https://h.example/hook2?secret=***", ""],
    ];
    for (const [stored, edited, merged] of cases) {
      const out = unmaskUrl(edited, stored);
      expect(typeof out, edited).toBe("string");
      if (merged) expect(out).toBe(merged);
      // whatever the form, it is the stored secret again, and it still parses
      expect(out as string).not.toContain("***");
      expect(checkNotifyUrl(out as string)).not.toHaveProperty("error");
      expect(redactedUrl(out as string)).toBe(redactedUrl(edited));
    }
    // gotify's app token is the path's last segment; the one before it is kept as typed
    expect(unmaskUrl("gotifys://push.example/sub/***", `gotifys://push.example/sub/${SECRET}`)).toBe(
      `gotifys://push.example/sub/${SECRET}`,
    );
    // without *** the edited URL is taken as it is
    expect(unmaskUrl(" ntfys://ntfy.sh/new?token=tk_2 ", `ntfys://ntfy.sh/a?token=${SECRET}`)).toBe(
      "ntfys://ntfy.sh/new?token=tk_2",
    );
  });

  test("never to another host, port, scheme or user; never where nothing was stored", () => {
    const stored = `ntfy://ann:${SECRET}@ntfy.example/alerts?token=${SECRET}`;
    for (const edited of [
      "ntfy://ann:***@evil.example/alerts",
      "ntfy://ann:***@ntfy.example:8443/alerts",
      "ntfys://ann:***@ntfy.example/alerts",
      "ntfy://bob:***@ntfy.example/alerts",
      "tgram://999:***/1",
    ])
      expect(unmaskUrl(edited, stored), edited).toEqual({
        error: expect.stringContaining("the address changed"),
      });
    expect(unmaskUrl("ntfys://ntfy.sh/alerts?token=***", "ntfys://ntfy.sh/alerts")).toEqual({
      error: expect.stringContaining("no secret was stored"),
    });
    for (const out of [unmaskUrl("ntfy://ann:***@evil.example/alerts", stored)])
      expect(JSON.stringify(out)).not.toContain(SECRET);
  });
});

test("--notify-client-limit N/PERIOD", () => {
  expect(parseClientLimit("6/1h")).toEqual({ count: 6, periodMs: 3_600_000, text: "6/1h" });
  expect(parseClientLimit("10 / 90m")).toEqual({ count: 10, periodMs: 5_400_000, text: "10/1h30m" });
  expect(parseClientLimit("6")).toBe("must look like N/PERIOD, e.g. 6/1h");
  expect(parseClientLimit("0/1h")).toBe("N must be at least 1");
  expect(parseClientLimit("3/10s")).toContain("between 1m and 7d");
});
