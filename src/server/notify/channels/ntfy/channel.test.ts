/** ntfy against a fake ntfy server that checks the JSON publish format and the access token. */
import { afterEach, expect, test } from "bun:test";
import { fakeNtfy } from "../../../../../test/fakes/notify-services.ts";
import { deliver, EVERY_KIND, sample, urlChannel } from "../../../../../test/helpers/notify.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

test("every kind is a valid JSON publish: topic, title, message, priority by severity, tags, click", async () => {
  const fake = fakeNtfy({ auth: "Bearer tk_secret123" });
  stops.push(() => fake.stop());
  const channel = urlChannel(`ntfy://${fake.host}/vpn-alerts?token=tk_secret123`);
  expect(channel.name).toBe(`ntfy://${fake.host}/vpn-alerts?token=***`);
  for (const kind of EVERY_KIND) await deliver(channel, sample(kind));
  expect(fake.delivered()).toHaveLength(EVERY_KIND.length);
  const byKind = new Map(
    fake.delivered().map((r) => [(r.body as { tags: string[] }).tags[1], r.body as Record<string, unknown>]),
  );
  expect(byKind.get("bypass.started")).toMatchObject({
    topic: "vpn-alerts",
    title: "🔴 laptop <b>&</b> *x* traffic bypasses the VPN",
    priority: 5,
    click: "https://sentinel.example/x_y/clients/c1",
  });
  expect(String(byKind.get("bypass.started")?.message)).toContain(
    "exit 203.0.113.7 (DE, AS3320 Example_Telekom)",
  );
  expect(byKind.get("client.late")?.priority).toBe(4);
  expect(byKind.get("bypass.ended")?.priority).toBe(3);
  expect(byKind.get("exit.changed")?.priority).toBe(2);
  expect(byKind.get("uplink.down")?.click).toBe("https://sentinel.example/x_y");
});

test("user:pass is Basic auth; 429 waits as told; a refused token disables; errors hide the secret", async () => {
  const fake = fakeNtfy({ auth: `Basic ${btoa("ann:pa ss")}` });
  stops.push(() => fake.stop());
  const ok = urlChannel(`ntfy://ann:pa%20ss@${fake.host}/t1`);
  expect(ok.name).toBe(`ntfy://ann:***@${fake.host}/t1`);
  await deliver(ok, sample("client.offline"));
  fake.script({
    status: 429,
    headers: { "retry-after": "7" },
    body: '{"code":42901,"error":"limit reached"}',
  });
  const err = await deliver(ok, sample("client.offline")).catch((e) => e);
  expect(ok.classifyError(err)).toEqual({ retryAfterMs: 7_000 });
  expect(ok.describeError(err)).toBe('ntfy 429: {"code":42901,"error":"limit reached"}');
  const wrong = urlChannel(`ntfy://ann:nope@${fake.host}/t1`);
  const refused = await deliver(wrong, sample("client.offline")).catch((e) => e);
  expect(wrong.classifyError(refused)).toBe("disabled");
  expect(wrong.describeError(refused)).not.toContain("nope");
  await fake.stop();
  const down = await deliver(ok, sample("client.offline")).catch((e) => e);
  expect(ok.classifyError(down)).toBe("retryable");
  expect(ok.describeError(down)).toMatch(/^ntfy unreachable: /);
});
