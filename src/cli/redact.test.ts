import { afterEach, expect, test } from "bun:test";
import { createLogger } from "./common.ts";
import { REDACTED, redactText, redactValue } from "./redact.ts";

const TOKEN = "7031234567:AAHk3vQm9ZpL0wXy2RtU5sNbC8dEfGhIjKl";
const URL_WITH_TOKEN = `http://127.0.0.1:1/bot${TOKEN}/getUpdates`;

test("credential shapes are replaced wherever they stand in a text", () => {
  const text = [
    URL_WITH_TOKEN,
    `http://api.example/botshort:token/sendMessage`,
    `token ${TOKEN} alone`,
    "sst_AbCdEfGhIjKlMnOpQrSt0123456789",
    "st1.eyJ1IjoiaHR0cDovL3gifQAAAAAAAAAA",
    "Authorization: Bearer abc.def-ghi_jkl",
  ].join("\n");
  const out = redactText(text);
  for (const secret of [TOKEN, "short:token", "sst_AbCd", "st1.eyJ1", "abc.def-ghi_jkl"])
    expect(out).not.toContain(secret);
  expect(out).toContain(`/bot${REDACTED}/getUpdates`);
  expect(out).toContain(`Bearer ${REDACTED}`);
});

test("given secret values are replaced; short ones and ordinary text are left alone", () => {
  expect(redactText("key=legacy-key-4c1e here", ["legacy-key-4c1e"])).toBe(`key=${REDACTED} here`);
  expect(redactText("a short word", ["short"])).toBe("a short word");
  const plain = "GET /api/v1/clients 200 1.2 ms [req-1] at 2026-11-30T20:01:46.597Z from 2001:db8::1";
  expect(redactText(plain)).toBe(plain);
});

test("errors are copied with message, stack, cause and own properties redacted", () => {
  const cause = Object.assign(new TypeError(`ECONNREFUSED: Unable to connect`), { path: URL_WITH_TOKEN });
  const error = new Error(`Network request failed: ${URL_WITH_TOKEN}`, { cause });
  const clean = redactValue({ error, url: new URL(URL_WITH_TOKEN), list: [URL_WITH_TOKEN] }) as Record<
    string,
    unknown
  >;
  const all = JSON.stringify(clean, (_k, v) =>
    v instanceof Error ? { ...v, message: v.message, stack: v.stack, cause: v.cause } : v,
  );
  expect(all).not.toContain(TOKEN);
  expect((clean.error as Error).message).toBe(
    `Network request failed: http://127.0.0.1:1/bot${REDACTED}/getUpdates`,
  );
  expect(((clean.error as Error).cause as TypeError).name).toBe("TypeError");
  expect(error.message).toContain(TOKEN); // the original is not changed
});

const written: string[] = [];
const write = process.stderr.write.bind(process.stderr);
afterEach(() => {
  process.stderr.write = write;
  written.length = 0;
});
const capture = () => {
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
};

for (const logFormat of ["json", "pretty"])
  test(`every log line passes the redaction, ${logFormat} format: messages, errors and fields`, () => {
    const logger = createLogger({ logLevel: "debug", logFormat }, ["metrics-token-9a8b7c6d"]);
    capture();
    const failure = Object.assign(new Error(`fetch ${URL_WITH_TOKEN} failed`), { path: URL_WITH_TOKEN });
    logger.error("polling stopped", failure);
    logger.warn(`request to ${URL_WITH_TOKEN}`, { url: URL_WITH_TOKEN, token: "metrics-token-9a8b7c6d" });
    logger.withTag("client").info(`retrying with metrics-token-9a8b7c6d`);
    const out = written.join("");
    expect(out).toContain("polling stopped");
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain("metrics-token-9a8b7c6d");
    expect(out).toContain(REDACTED);
  });
