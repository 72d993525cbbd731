/** Gotify against a fake Gotify server that checks the app token and the message format. */
import { afterEach, expect, test } from "bun:test";
import { fakeGotify } from "../../../../../test/fakes/notify-services.ts";
import { deliver, EVERY_KIND, sample, urlChannel } from "../../../../../test/helpers/notify.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

test("every kind is a valid Gotify message: markdown extras, click URL, priority by severity", async () => {
  const fake = fakeGotify("AbCdEf.123", "/gotify");
  stops.push(() => fake.stop());
  const channel = urlChannel(`gotify://${fake.host}/gotify/AbCdEf.123`);
  expect(channel.name).toBe(`gotify://${fake.host}/gotify/***`);
  for (const kind of EVERY_KIND) await deliver(channel, sample(kind));
  expect(fake.delivered()).toHaveLength(EVERY_KIND.length);
  const first = fake.delivered()[EVERY_KIND.indexOf("bypass.started")]?.body as Record<string, unknown>;
  expect(first).toMatchObject({
    title: "🔴 laptop <b>&</b> *x* traffic bypasses the VPN",
    priority: 8,
    extras: {
      "client::display": { contentType: "text/markdown" },
      "client::notification": { click: { url: "https://sentinel.example/x_y/clients/c1" } },
    },
  });
  // markdown: dynamic text cannot inject markup
  expect(String(first.message)).toContain('Traffic leaves through "home" & \\<more\\>.');
});

test("a wrong app token disables the channel; 5xx is retried", async () => {
  const fake = fakeGotify("right-token");
  stops.push(() => fake.stop());
  const wrong = urlChannel(`gotify://${fake.host}/wrong-token`);
  const err = await deliver(wrong, sample("client.offline")).catch((e) => e);
  expect(wrong.classifyError(err)).toBe("disabled");
  expect(wrong.describeError(err)).toStartWith("gotify 401");
  expect(wrong.describeError(err)).not.toContain("wrong-token");
  fake.script({ status: 502, body: "bad gateway" });
  const right = urlChannel(`gotify://${fake.host}/right-token`);
  expect(right.classifyError(await deliver(right, sample("client.offline")).catch((e) => e))).toBe(
    "retryable",
  );
});
