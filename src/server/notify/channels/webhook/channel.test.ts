/** Signed webhooks against a receiver that verifies with the `standardwebhooks` reference library. */
import { afterEach, expect, test } from "bun:test";
import { fakeWebhookReceiver } from "../../../../../test/fakes/notify-services.ts";
import { deliver, sample, urlChannel } from "../../../../../test/helpers/notify.ts";

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

test("the receiver verifies the signature; webhook-id is stable across retries, the timestamp fresh", async () => {
  const fake = fakeWebhookReceiver(SECRET);
  stops.push(() => fake.stop());
  const channel = urlChannel(`webhook+http://${fake.host}/hook?secret=${SECRET}`);
  expect(channel.name).toBe(`webhook+http://${fake.host}/hook?secret=***`);
  fake.script({ status: 503, body: "busy" });
  const n = sample("bypass.started");
  const err = await deliver(channel, n, "webhook:x:event:7").catch((e) => e);
  expect(channel.classifyError(err)).toBe("retryable");
  await Bun.sleep(1_100); // the retry gets a new timestamp (seconds)
  await deliver(channel, n, "webhook:x:event:7");
  const [first, second] = fake.requests;
  expect(second?.status).toBe(200); // verified by the library
  expect(first?.headers.get("webhook-id")).toBe(second?.headers.get("webhook-id") as string);
  expect(first?.headers.get("webhook-timestamp")).not.toBe(
    second?.headers.get("webhook-timestamp") as string,
  );
  expect(second?.headers.get("webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
  expect(second?.body).toMatchObject({
    type: "bypass.started",
    data: {
      kind: "bypass.started",
      severity: "red",
      client: { id: "c1" },
      url: "https://sentinel.example/x_y/clients/c1",
    },
  });
  await deliver(channel, sample("bypass.started", { eventId: 8 }), "webhook:x:event:8");
  expect(fake.requests[2]?.headers.get("webhook-id")).not.toBe(first?.headers.get("webhook-id") as string);
});

test("a wrong secret fails verification (401: disabled); 410 Gone disables; bad secrets are refused at start", async () => {
  const fake = fakeWebhookReceiver(SECRET);
  stops.push(() => fake.stop());
  const other = `whsec_${Buffer.from("another-secret-of-32-bytes-long!").toString("base64")}`;
  const wrong = urlChannel(`webhook+http://${fake.host}/hook?secret=${other}`);
  expect(wrong.classifyError(await deliver(wrong, sample("client.offline")).catch((e) => e))).toBe(
    "disabled",
  );
  const right = urlChannel(`webhook+http://${fake.host}/hook?secret=${SECRET}`);
  fake.script({ status: 410, body: "gone" });
  expect(right.classifyError(await deliver(right, sample("client.offline")).catch((e) => e))).toBe(
    "disabled",
  );
  const { checkNotifyUrl } = await import("../urls.ts");
  expect(checkNotifyUrl("webhook+https://h/x?secret=nope")).toEqual({
    error:
      "webhook+https://h/x?secret=***: ?secret= must be a Standard Webhooks secret: whsec_ and the base64 of 16+ random bytes",
  });
});
