import { expect, test } from "bun:test";
import { Broker } from "./broker.ts";

test("since(mark) gives what was delivered after the mark, in order, to a page that was not listening yet", () => {
  const broker = new Broker();
  broker.publish("client.updated", { clientId: "a", changed: false });
  const mark = broker.mark();
  expect(broker.since(mark)).toEqual([]);
  broker.publish("client.updated", { clientId: "b", changed: true });
  broker.publish("events.created", { eventIds: [7], kinds: ["client.offline"] });
  expect(broker.since(mark)).toEqual([
    { topic: "client.updated", message: { clientId: "b", changed: true } },
    { topic: "events.created", message: { eventIds: [7], kinds: ["client.offline"] } },
  ]);
  expect(broker.since(broker.mark())).toEqual([]);
});

test("since(mark) is null when it cannot tell: another broker's mark, a forged one, or one older than it keeps", () => {
  const broker = new Broker();
  const mark = broker.mark();
  expect(new Broker().since(mark)).toBeNull();
  const [id] = mark.split(".");
  for (const forged of [`${id}.5`, `${id}.-1`, `${id}.x`, `${id}`, "", "a.b.c"])
    expect(broker.since(forged)).toBeNull();
  for (let i = 0; i < 1024; i++) broker.publish("client.updated", { clientId: `c${i}`, changed: false });
  expect(broker.since(mark)?.length).toBe(1024);
  broker.publish("client.updated", { clientId: "one-more", changed: false });
  expect(broker.since(mark)).toBeNull();
  expect(broker.since(`${id}.1`)?.at(-1)).toEqual({
    topic: "client.updated",
    message: { clientId: "one-more", changed: false },
  });
});
