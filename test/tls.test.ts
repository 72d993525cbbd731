/** The server terminates TLS itself (--tls-cert/--tls-key); the client trusts it through NODE_EXTRA_CA_CERTS. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeDns } from "./fakes/dns.ts";
import { startFakeEcho } from "./fakes/echo.ts";
import { sentinel } from "./helpers/cli.ts";
import { type ServerProcess, startServerProcess } from "./helpers/process-server.ts";
import { tempDir } from "./helpers/server.ts";
import { selfSignedCert } from "./helpers/tls.ts";

const dir = tempDir();
let tls: { cert: string; key: string };
let server: ServerProcess;

beforeAll(async () => {
  tls = selfSignedCert(dir.path);
  server = await startServerProcess([
    "--data-dir",
    join(dir.path, "data"),
    "--tls-cert",
    tls.cert,
    "--tls-key",
    tls.key,
  ]);
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

test("the server listens with HTTPS and says so", async () => {
  expect(server.url).toStartWith("https://127.0.0.1:");
  const res = await fetch(`${server.url}/healthz`, { tls: { ca: readFileSync(tls.cert, "utf8") } });
  expect(res.status).toBe(200);
  // served over HTTPS by itself (no --public-url): browsers are told to stay on HTTPS
  expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000");
  // an untrusting client is refused by its own TLS check
  await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  // plain HTTP on the TLS port gets no answer
  await expect(fetch(`${server.url.replace("https:", "http:")}/healthz`)).rejects.toThrow();
});

test("a client trusting the certificate delivers a report over HTTPS", async () => {
  const add = await sentinel([
    "clients",
    "add",
    "tls-pi",
    "--data-dir",
    join(dir.path, "data"),
    "--public-url",
    server.url,
    "--json",
  ]);
  expect(add.code).toBe(0);
  const { token } = JSON.parse(add.stdout);
  const echo = startFakeEcho({ answer: "203.0.113.9" });
  const dns = await startFakeDns();
  const run = await sentinel(
    [
      "client",
      "--once",
      "--ip4-provider",
      echo.url,
      "--no-ipv6",
      "--dns-resolver",
      `127.0.0.1:${dns.port}`,
      "--spool-dir",
      join(dir.path, "spool"),
    ],
    { env: { SENTINEL_TOKEN: token, NODE_EXTRA_CA_CERTS: tls.cert } },
  );
  echo.stop();
  await dns.stop();
  expect(run.code, run.stderr).toBe(0);
});

test("--tls-cert without --tls-key is refused at start", async () => {
  const r = await sentinel(
    ["server", "--data-dir", join(dir.path, "other"), "--listen", "127.0.0.1:0", "--tls-cert", tls.cert],
    {
      env: { SENTINEL_HOME_LEARN: "false" },
    },
  );
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("--tls-cert and --tls-key go together");
});
