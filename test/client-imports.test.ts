/**
 * The client half stays light: `sentinel client` and `sentinel check` never load Elysia, JSX,
 * grammy or the IP data (a preload makes any such import throw), and they still work end to end.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { startFakeDns, whoamiHandler } from "./fakes/dns.ts";
import { type FakeEcho, startFakeEcho } from "./fakes/echo.ts";
import { run } from "./helpers/cli.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let dns: Awaited<ReturnType<typeof startFakeDns>>;
let token: string;
/** an echo provider seeing a stand-in public exit (the server's whoami sees loopback, which never counts) */
let echo: FakeEcho;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  token = (await enrollClient(store, loadKeyring(dir.path), "light", "http://x", Date.now())).token;
  await store.close();
  server = await startTestServer({ dataDir: dir.path });
  dns = await startFakeDns({ handler: whoamiHandler });
  echo = startFakeEcho({ answer: "198.51.100.7" });
});
afterAll(async () => {
  await server.stop();
  await dns.stop();
  echo.stop();
  dir.remove();
});

const runClient = (args: string[]) =>
  run(
    [
      "bun",
      "--preload",
      `${import.meta.dir}/helpers/forbid-server-modules.ts`,
      `${import.meta.dir}/../src/main.ts`,
      ...args,
    ],
    {
      env: { HOME: dir.path, SENTINEL_TOKEN: token },
    },
  );

const probeArgs = () => [
  "--ip4-provider",
  echo.url,
  "--ip4-provider",
  `${server.url}/api/v1/whoami`,
  "--no-ipv6",
  "--dns-resolver",
  `127.0.0.1:${dns.port}`,
  "--dns-probe",
  "whoami.akamai.net:A",
];

test("sentinel client --once delivers a report without loading server modules", async () => {
  const r = await runClient([
    "client",
    "--once",
    "--server",
    server.url,
    "--spool-dir",
    `${dir.path}/spool`,
    ...probeArgs(),
  ]);
  expect(r.stderr).not.toContain("server-only module");
  expect(r.code, r.stderr).toBe(0);
});

test("sentinel check --json runs without loading server modules", async () => {
  const r = await runClient(["check", "--json", ...probeArgs()]);
  expect(r.stderr).not.toContain("server-only module");
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).ipv4).toMatchObject({ ip: "198.51.100.7", consistent: true });
});

test("the guard itself works: loading the server fails under it", async () => {
  const r = await runClient(["server", "--help"]);
  // help only lists options; importing the server command pulls in no Elysia either
  expect(r.code).toBe(0);
  const boom = Bun.spawnSync([
    "bun",
    "--preload",
    `${import.meta.dir}/helpers/forbid-server-modules.ts`,
    "-e",
    'await import("elysia")',
  ]);
  expect(boom.exitCode).not.toBe(0);
  expect(boom.stderr.toString()).toContain("server-only module");
  // the IP data is the server's too
  const geo = Bun.spawnSync([
    "bun",
    "--preload",
    `${import.meta.dir}/helpers/forbid-server-modules.ts`,
    "-e",
    `const { loadGeo } = await import("${import.meta.dir}/../src/server/geo/index.ts"); await loadGeo({});`,
  ]);
  expect(geo.exitCode).not.toBe(0);
  expect(geo.stderr.toString()).toContain("server-only module");
});
