/** Apprise API pass-through against a fake Apprise API server. */
import { afterEach, expect, test } from "bun:test";
import { fakeApprise } from "../../../../../test/fakes/notify-services.ts";
import { deliver, EVERY_KIND, sample, urlChannel } from "../../../../../test/helpers/notify.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

test("every kind posts title, Markdown body and the type by severity to /notify/KEY", async () => {
  const fake = fakeApprise("my-key");
  stops.push(() => fake.stop());
  const channel = urlChannel(`apprise+http://${fake.host}/notify/my-key?tag=vpn`);
  expect(channel.name).toBe(`apprise+http://${fake.host}/notify/***?tag=vpn`);
  for (const kind of EVERY_KIND) await deliver(channel, sample(kind));
  expect(fake.delivered()).toHaveLength(EVERY_KIND.length);
  const types = fake.delivered().map((r) => (r.body as { type: string }).type);
  expect(types[EVERY_KIND.indexOf("bypass.started")]).toBe("failure");
  expect(types[EVERY_KIND.indexOf("client.late")]).toBe("warning");
  expect(types[EVERY_KIND.indexOf("bypass.ended")]).toBe("success");
  expect(fake.delivered()[0]?.body).toMatchObject({ format: "markdown", tag: "vpn" });
});

test("an unknown key (204, nothing sent) disables; 424 (some services failed) is not retried", async () => {
  const fake = fakeApprise("my-key");
  stops.push(() => fake.stop());
  const wrong = urlChannel(`apprise+http://${fake.host}/notify/other`);
  const err = await deliver(wrong, sample("client.offline")).catch((e) => e);
  expect(wrong.classifyError(err)).toBe("disabled");
  expect(wrong.describeError(err)).toBe("apprise 204: no configuration for this key");
  const right = urlChannel(`apprise+http://${fake.host}/notify/my-key`);
  fake.script({ status: 424, body: "One or more notification could not be sent." });
  expect(right.classifyError(await deliver(right, sample("client.offline")).catch((e) => e))).toBe(
    "permanent",
  );
});
