import { describe, expect, test } from "bun:test";
import { GrammyError, HttpError } from "grammy";
import { quietLogger } from "../../../../../test/helpers/server.ts";
import { MessageTemplates } from "../../templates.ts";
import type { Notification } from "../../types.ts";
import { TELEGRAM_PACE, TelegramChannel } from "./channel.ts";
import { parseTelegramTarget } from "./chat.ts";

const channel = new TelegramChannel({
  token: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  chats: ["111", "-1002:7", "@alerts", "nonsense"],
  templates: MessageTemplates.load({ publicUrl: "https://s.example/", timeZone: "UTC" }, quietLogger()),
});
const apiError = (code: number, description: string, retry_after?: number) =>
  new GrammyError(
    "call failed",
    { ok: false, error_code: code, description, ...(retry_after ? { parameters: { retry_after } } : {}) },
    "sendMessage",
    {},
  );

describe("TelegramChannel", () => {
  test("targets and config problems", () => {
    expect(channel.targets()).toEqual(["111", "-1002:7", "@alerts"]);
    expect(channel.validateConfig()).toEqual(['chat "nonsense" is not a chat id, @channel or ID:THREAD']);
    expect(parseTelegramTarget("-1002:7")).toEqual({ chatId: -1002, threadId: 7 });
  });

  test("classifies Bot API errors for the outbox", () => {
    expect(channel.classifyError(apiError(429, "Too Many Requests", 7200))).toEqual({
      retryAfterMs: 7_200_000,
    });
    expect(channel.classifyError(apiError(403, "Forbidden: bot was blocked by the user"))).toBe(
      "unreachable",
    );
    expect(channel.classifyError(apiError(400, "Bad Request: chat not found"))).toBe("unreachable");
    expect(channel.classifyError(apiError(400, "Bad Request: can't parse entities"))).toBe("permanent");
    expect(channel.classifyError(apiError(502, "Bad Gateway"))).toBe("retryable");
    expect(
      channel.classifyError(
        new HttpError("Network request for 'sendMessage' failed!", new Error("ECONNREFUSED")),
      ),
    ).toBe("retryable");
    expect(channel.describeError(apiError(403, "Forbidden: bot was kicked"))).toBe(
      "telegram 403: Forbidden: bot was kicked",
    );
  });

  test("pacing: 1/s per chat, plus 20/min for groups and channels", () => {
    expect(channel.pace("111")).toEqual(TELEGRAM_PACE.privateChat);
    expect(channel.pace("-1002:7")).toEqual(TELEGRAM_PACE.groupChat);
    expect(channel.pace("@alerts")).toEqual(TELEGRAM_PACE.groupChat);
  });

  test("renders a problem with evidence, dashboard link and mute buttons; resolved without buttons", () => {
    const n: Notification = {
      kind: "client.offline",
      severity: "red",
      eventId: 1,
      client: { id: "c 1", name: "laptop" },
      from: "online",
      to: "offline",
      at: Date.UTC(2026, 10, 18, 12, 0),
      evidence: { reason: "No report for 3 min." },
      facts: {
        lastSeenAt: Date.UTC(2026, 10, 18, 11, 57),
        lastExit: {
          ipv4: { ip: "203.0.113.9", country: "NL", asn: 64500, org: "Example VPN", source: "database" },
          ipv6: null,
        },
      },
    };
    const [m] = channel.render(n, "111");
    expect(m?.text).toBe(
      [
        "🔴 <b>laptop</b> is offline",
        "Changed: online → offline\nNo report for 3 min.",
        "Last seen: 2026-11-18 11:57 UTC\nLast exit: <code>203.0.113.9</code> (NL, AS64500 Example VPN)",
        "At 2026-11-18 12:00 UTC",
        '<a href="https://s.example/clients/c%201">Open in dashboard</a>',
      ].join("\n\n"),
    );
    expect(m?.buttons?.inline_keyboard[0]?.map((b) => ("callback_data" in b ? b.callback_data : ""))).toEqual(
      ["mute:c 1:3600", "mute:c 1:86400"],
    );
    const [ok] = channel.render(
      { ...n, kind: "client.online", severity: "green", facts: { downtimeMs: 300_000 } },
      "111",
    );
    expect(ok?.text).toContain("✅ <b>laptop</b> is back online");
    expect(ok?.text).toContain("Lasted 5m.");
    expect(ok?.buttons).toBeUndefined();
  });
});
