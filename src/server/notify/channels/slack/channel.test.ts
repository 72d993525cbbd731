/** Slack (and Mattermost-style) incoming webhooks against a fake that checks text/blocks. */
import { afterEach, expect, test } from "bun:test";
import { fakeSlack } from "../../../../../test/fakes/notify-services.ts";
import { deliver, EVERY_KIND, sample, urlChannel } from "../../../../../test/helpers/notify.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

test("every kind is valid Block Kit with a text fallback; mrkdwn escaping of names", async () => {
  const fake = fakeSlack("/services/T0/B0/s3cr3t");
  stops.push(() => fake.stop());
  const channel = urlChannel(`slack+http://${fake.host}/services/T0/B0/s3cr3t`);
  expect(channel.name).toBe(`slack+http://${fake.host}/services/T0/B0/***`);
  for (const kind of EVERY_KIND) await deliver(channel, sample(kind));
  expect(fake.delivered()).toHaveLength(EVERY_KIND.length);
  const body = fake.delivered()[EVERY_KIND.indexOf("bypass.started")]?.body as {
    text: string;
    blocks: { type: string; text?: { text: string }; elements?: { url?: string }[] }[];
  };
  expect(body.text).toStartWith("🔴 laptop &lt;b&gt;&amp;&lt;/b&gt; *x* traffic bypasses the VPN");
  expect(body.blocks.map((b) => b.type)).toEqual(["section", "section", "section", "actions", "context"]);
  expect(body.blocks[3]?.elements?.[0]?.url).toBe("https://sentinel.example/x_y/clients/c1");
  expect(channel.pace(channel.name)).toEqual({ minIntervalMs: 1_000 });
});

test("429 Retry-After, archived channel 410 and a wrong URL 404", async () => {
  const fake = fakeSlack("/services/T0/B0/s");
  stops.push(() => fake.stop());
  const channel = urlChannel(`slack+http://${fake.host}/services/T0/B0/s`);
  fake.script(
    { status: 429, headers: { "retry-after": "30" } },
    { status: 410, body: "channel_is_archived" },
  );
  expect(channel.classifyError(await deliver(channel, sample("client.offline")).catch((e) => e))).toEqual({
    retryAfterMs: 30_000,
  });
  const gone = await deliver(channel, sample("client.offline")).catch((e) => e);
  expect(channel.classifyError(gone)).toBe("disabled");
  expect(channel.describeError(gone)).toBe("slack 410: channel_is_archived");
  const wrong = urlChannel(`slack+http://${fake.host}/services/T0/B0/x`);
  expect(wrong.classifyError(await deliver(wrong, sample("client.offline")).catch((e) => e))).toBe(
    "disabled",
  );
});
