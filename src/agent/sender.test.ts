import { describe, expect, test } from "bun:test";
import { classifyResponse, reportsUrl } from "./sender.ts";

describe("classifyResponse", () => {
  const now = 0;
  test("202 with next_report_in_s", () =>
    expect(
      classifyResponse(202, '{"accepted":true,"server_time":"x","next_report_in_s":45}', null, now),
    ).toEqual({
      kind: "accepted",
      nextReportInS: 45,
      verdict: null,
      features: [],
    }));
  test("202 with the server's status and reasons", () =>
    expect(
      classifyResponse(
        202,
        '{"accepted":true,"next_report_in_s":30,"status":"red","reasons":["DNS leaks: x.",7],"features":["dns_pending",3]}',
        null,
        now,
      ),
    ).toEqual({
      kind: "accepted",
      nextReportInS: 30,
      verdict: { status: "red", reasons: ["DNS leaks: x."] },
      features: ["dns_pending"],
    }));
  test("2xx without a usable body still counts as stored", () => {
    expect(classifyResponse(202, "", null, now)).toEqual({
      kind: "accepted",
      nextReportInS: null,
      verdict: null,
      features: [],
    });
    expect(classifyResponse(200, '{"next_report_in_s":"soon","features":"dns_pending"}', null, now)).toEqual({
      kind: "accepted",
      nextReportInS: null,
      verdict: null,
      features: [],
    });
  });
  const rejected: [number, string][] = [
    [400, '{"error":{"code":"validation_failed","message":"invalid report"}}'],
    [413, '{"error":{"code":"payload_too_large","message":"too big"}}'],
    [415, ""],
    [422, ""],
  ];
  for (const [status, body] of rejected)
    test(`${status} drops the report`, () =>
      expect(classifyResponse(status, body, null, now).kind).toBe("rejected"));
  test("400 names the server's error code", () =>
    expect(classifyResponse(400, rejected[0]?.[1] as string, null, now)).toMatchObject({
      reason: "HTTP 400 validation_failed: invalid report",
    }));
  test("401 is retried and hints at token and clock", () =>
    expect(
      classifyResponse(401, '{"error":{"code":"unauthorized","message":"bad"}}', null, now),
    ).toMatchObject({
      kind: "retry",
      reason: "HTTP 401 unauthorized: bad (check the token and this machine's clock)",
    }));
  test("429 carries Retry-After", () =>
    expect(classifyResponse(429, "", "30", now)).toEqual({
      kind: "retry",
      status: 429,
      reason: "HTTP 429",
      retryAfterMs: 30_000,
    }));
  for (const status of [404, 500, 502, 503])
    test(`${status} is retried`, () =>
      expect(classifyResponse(status, "<html>", null, now).kind).toBe("retry"));
});

test("reportsUrl keeps a path prefix (reverse proxy)", () => {
  expect(reportsUrl("https://example.org/sentinel/")).toBe("https://example.org/sentinel/api/v1/reports");
  expect(reportsUrl("http://127.0.0.1:8088")).toBe("http://127.0.0.1:8088/api/v1/reports");
});
