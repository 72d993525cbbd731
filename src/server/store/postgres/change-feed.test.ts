import { expect, test } from "bun:test";
import { pack, splitMessage } from "./change-feed.ts";

test("messages are packed into as few NOTIFY payloads as fit, in order, each under PostgreSQL's limit", () => {
  const items = Array.from(
    { length: 500 },
    (_, i) => ["client.updated", { clientId: `client-${i}`, changed: i % 2 === 0 }] as const,
  );
  const payloads = pack(
    "replica-a",
    items.map(([t, m]) => [t, m]),
  );
  expect(payloads.length).toBeGreaterThan(1);
  expect(payloads.length).toBeLessThan(10);
  for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8_000);
  const back = payloads.flatMap((p) => {
    const parsed = JSON.parse(p);
    expect(parsed.origin).toBe("replica-a");
    return parsed.messages;
  });
  expect(back).toEqual(items.map(([t, m]) => [t, m]));
  expect(pack("a", [])).toEqual([]);
});

test("one oversized message: events.created is split, anything else becomes store.external", () => {
  const eventIds = Array.from({ length: 3_000 }, (_, i) => 10_000_000 + i);
  const parts = splitMessage("events.created", { eventIds, kinds: eventIds.map(() => "offline") });
  expect(parts.length).toBeGreaterThan(1);
  expect(parts.flatMap(([, m]) => (m as { eventIds: number[] }).eventIds)).toEqual(eventIds);
  expect(parts.flatMap(([, m]) => (m as { kinds: string[] }).kinds).length).toBe(eventIds.length);
  for (const p of pack("a", parts)) expect(Buffer.byteLength(p)).toBeLessThan(8_000);
  expect(splitMessage("client.changed", { clientId: "x".repeat(10_000) })).toEqual([["store.external", {}]]);
});
