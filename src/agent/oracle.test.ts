import { afterAll, describe, expect, test } from "bun:test";
import { OracleNames, parseOracleGrant } from "./oracle.ts";
import { classifyResponse, oracleLabelsUrl } from "./sender.ts";

const LABEL_A = "a".repeat(50);
const LABEL_B = "b".repeat(50);
const GRANT = { zone: "leak.example.org", labels: [LABEL_A, LABEL_B], expires_in_s: 330 };

describe("parseOracleGrant", () => {
  test("takes a well-formed grant, lower-casing the zone", () => {
    expect(parseOracleGrant({ ...GRANT, zone: "Leak.Example.ORG" })).toEqual(GRANT);
  });

  test("refuses anything a resolver could not be asked safely", () => {
    for (const bad of [
      null,
      "x",
      { ...GRANT, zone: "nodots" },
      { ...GRANT, zone: "bad zone.org" },
      { ...GRANT, labels: [LABEL_A] },
      { ...GRANT, labels: [LABEL_A, "has.dot"] },
      { ...GRANT, labels: [LABEL_A, "x".repeat(64)] },
      { ...GRANT, expires_in_s: 0 },
      { ...GRANT, expires_in_s: "soon" },
    ])
      expect(parseOracleGrant(bad)).toBeNull();
  });

  test("a 202 carrying dns_oracle hands the grant to the agent; one without leaves it out", () => {
    const body = JSON.stringify({ accepted: true, next_report_in_s: 30, dns_oracle: GRANT });
    expect(classifyResponse(202, body, null, 0)).toMatchObject({ kind: "accepted", oracle: GRANT });
    expect(classifyResponse(202, '{"accepted":true}', null, 0)).not.toHaveProperty("oracle");
  });
});

describe("OracleNames", () => {
  test("a grant gives one round of names, A then AAAA, and is used up", () => {
    const names = new OracleNames(() => 0);
    names.offer(GRANT);
    expect(names.take()).toEqual([
      { name: `${LABEL_A}.leak.example.org`, type: "A" },
      { name: `${LABEL_B}.leak.example.org`, type: "AAAA" },
    ]);
    expect(names.take()).toBeNull();
  });

  test("labels about to expire are not used", () => {
    const clock = { t: 0 };
    const names = new OracleNames(() => clock.t);
    names.offer(GRANT);
    clock.t = 301_000; // 330 s granted, 30 s kept in hand for the lookup and the upload
    expect(names.take()).toBeNull();
  });

  test("without labels in hand it asks whoami, and after a server says it has no zone it waits an hour", async () => {
    let grant: unknown = GRANT;
    const asked: string[] = [];
    const whoami = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => {
        asked.push(new URL(req.url).search);
        return Response.json({ ip: "127.0.0.1", ...(grant ? { dns_oracle: grant } : {}) });
      },
    });
    afterAll(() => whoami.stop(true));
    const url = oracleLabelsUrl({ serverUrl: `http://127.0.0.1:${whoami.port}/`, clientId: "c_one" });
    expect(url).toBe(`http://127.0.0.1:${whoami.port}/api/v1/whoami?client=c_one`);
    const clock = { t: 0 };
    const names = new OracleNames(() => clock.t);
    expect((await names.forRound(url, { timeoutMs: 1000 })).map((n) => n.type)).toEqual(["A", "AAAA"]);
    expect(asked).toEqual(["?client=c_one"]);

    // a 202 gave the next round's: no request
    names.offer(GRANT);
    expect((await names.forRound(url, { timeoutMs: 1000 })).length).toBe(2);
    expect(asked.length).toBe(1);

    // the server has no zone (any more): it says so once, then is left alone for an hour
    grant = null;
    expect(await names.forRound(url, { timeoutMs: 1000 })).toEqual([]);
    expect(await names.forRound(url, { timeoutMs: 1000 })).toEqual([]);
    expect(asked.length).toBe(2);
    clock.t += 3_600_000;
    grant = GRANT;
    expect((await names.forRound(url, { timeoutMs: 1000 })).length).toBe(2);
    expect(asked.length).toBe(3);
  });

  test("an unreachable server means no names this round, and asking again the next", async () => {
    const names = new OracleNames(() => 0);
    expect(await names.forRound("http://127.0.0.1:9/api/v1/whoami?client=c", { timeoutMs: 500 })).toEqual([]);
    expect(names.worthAsking).toBe(true);
  });
});
