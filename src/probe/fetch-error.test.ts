import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selfSignedCert } from "../../test/helpers/tls.ts";
import { describeFetchError, isTlsError } from "./fetch-error.ts";

/** The error a real fetch throws. */
const failure = async (url: string, timeoutMs = 2000) => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    return e;
  }
  throw new Error(`${url} answered`);
};

describe("describeFetchError", () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-fetch-error-"));
  const cert = selfSignedCert(dir);
  const tls = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: Bun.file(cert.cert), key: Bun.file(cert.key) },
    fetch: () => new Response("ok"),
  });
  const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => {}) });
  afterAll(() => {
    tls.stop(true);
    silent.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a closed port is 'connection refused', said once", async () => {
    const e = await failure("http://127.0.0.1:9");
    expect(describeFetchError(e)).toBe("connection refused");
    expect(isTlsError(e)).toBe(false);
  });

  test("no answer in time", async () => {
    const e = await failure(`http://127.0.0.1:${silent.port}`, 200);
    expect(describeFetchError(e, 200)).toBe("timed out after 200 ms");
  });

  test("an untrusted certificate is a TLS problem, named by its code", async () => {
    const e = await failure(`https://127.0.0.1:${tls.port}`);
    expect(isTlsError(e)).toBe(true);
    expect(describeFetchError(e)).toStartWith("TLS failed: ");
  });

  test("an unknown error keeps its code, without repeating it", () => {
    expect(describeFetchError(Object.assign(new Error("EWEIRD: odd"), { code: "EWEIRD" }))).toBe(
      "EWEIRD: odd",
    );
    expect(describeFetchError(Object.assign(new Error("odd"), { code: "EWEIRD" }))).toBe("EWEIRD: odd");
  });
});
