/** Discord against a fake webhook endpoint that enforces Discord's documented embed limits. */
import { afterEach, expect, test } from "bun:test";
import { fakeDiscord } from "../../../../../test/fakes/notify-services.ts";
import { deliver, EVERY_KIND, sample, urlChannel } from "../../../../../test/helpers/notify.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

test("every kind is one embed: colour by severity, verdict and evidence fields, dashboard link", async () => {
  const fake = fakeDiscord("123456", "tok-en_1");
  stops.push(() => fake.stop());
  const channel = urlChannel(`discord+https://${fake.host}/api/webhooks/123456/tok-en_1`);
  expect(channel.name).toBe(`discord+https://${fake.host}/api/webhooks/123456/***`);
  // the fake speaks http; the channel would call https: point it at the fake
  (channel as unknown as { config: { endpoint: string } }).config.endpoint =
    `http://${fake.host}/api/webhooks/123456/tok-en_1?wait=true`;
  for (const kind of EVERY_KIND) await deliver(channel, sample(kind));
  expect(fake.delivered()).toHaveLength(EVERY_KIND.length);
  const body = fake.delivered()[EVERY_KIND.indexOf("bypass.started")]?.body as {
    embeds: Record<string, unknown>[];
  };
  const embed = body.embeds[0] as Record<string, unknown>;
  expect(embed).toMatchObject({ color: 0xd32f2f, url: "https://sentinel.example/x_y/clients/c1" });
  expect(embed.title).toBe("🔴 laptop \\<b\\>&\\</b\\> \\*x\\* traffic bypasses the VPN");
  const fields = embed.fields as { name: string; value: string }[];
  expect(fields.map((f) => f.name)).toContain("Verdict");
  expect(fields.find((f) => f.name === "Evidence")?.value).toContain("203.0.113.7");
  expect(fake.requests[0]?.query.get("wait")).toBe("true");
});

test("a huge evidence list is cut to Discord's limits instead of refused", async () => {
  const fake = fakeDiscord("1", "t");
  stops.push(() => fake.stop());
  const channel = urlChannel(`discord+https://${fake.host}/api/webhooks/1/t`);
  (channel as unknown as { config: { endpoint: string } }).config.endpoint =
    `http://${fake.host}/api/webhooks/1/t`;
  const exits = Array.from({ length: 400 }, (_, i) => ({
    ip: `203.0.113.${i % 250}`,
    providers: ["p".repeat(30)],
  }));
  await deliver(channel, sample("bypass.started", { evidence: { reason: "x".repeat(5000), exits } }));
  expect(fake.delivered()).toHaveLength(1);
});

test("429 with retry_after waits as told; a deleted webhook (404) or a bad token (401) disables", async () => {
  const fake = fakeDiscord("1", "t");
  stops.push(() => fake.stop());
  const channel = urlChannel(`discord+https://${fake.host}/api/webhooks/1/t`);
  (channel as unknown as { config: { endpoint: string } }).config.endpoint =
    `http://${fake.host}/api/webhooks/1/t`;
  fake.script({
    status: 429,
    headers: { "content-type": "application/json" },
    body: '{"message":"You are being rate limited.","retry_after":1.5,"global":false}',
  });
  expect(channel.classifyError(await deliver(channel, sample("client.offline")).catch((e) => e))).toEqual({
    retryAfterMs: 1_500,
  });
  (channel as unknown as { config: { endpoint: string } }).config.endpoint =
    `http://${fake.host}/api/webhooks/2/t`;
  expect(channel.classifyError(await deliver(channel, sample("client.offline")).catch((e) => e))).toBe(
    "disabled",
  );
  expect(channel.pace(channel.name)).toEqual({ minIntervalMs: 400, perMinute: 30 });
});

test("a URL that is not a Discord webhook URL is refused", async () => {
  const { checkNotifyUrl } = await import("../urls.ts");
  expect(checkNotifyUrl("discord+https://discord.com/channels/1/2")).toEqual({
    error:
      "discord+https://discord.com/channels/1/***: needs the webhook URL as Discord shows it: discord+https://discord.com/api/webhooks/ID/TOKEN",
  });
});
