/** `sentinel client doctor` against a real local server and fake providers and DNS. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { judgeClock, judgeNamespace, judgeReport, judgeServerError } from "../src/cli/doctor-checks.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { type FakeDns, startFakeDns } from "./fakes/dns.ts";
import { type FakeEcho, startFakeEcho } from "./fakes/echo.ts";
import { run, sentinel } from "./helpers/cli.ts";
import { type ServerProcess, startServerProcess } from "./helpers/process-server.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";
import { selfSignedCert } from "./helpers/tls.ts";

interface Check {
  name: string;
  status: string;
  detail: string;
  fix?: string;
}

const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let echo: FakeEcho;
let dead: FakeEcho;
let dns: FakeDns;
let token: string;

beforeAll(async () => {
  echo = startFakeEcho({ answer: "203.0.113.77" });
  dead = startFakeEcho({ status: 503 });
  dns = await startFakeDns();
  server = await startTestServer({ dataDir: dir.path });
  const store = await openServerStore(dir.path);
  token = (await enrollClient(store, loadKeyring(dir.path), "pi", server.url, Date.now())).token;
  await store.close();
});
afterAll(async () => {
  await server.stop();
  echo.stop();
  dead.stop();
  await dns.stop();
  dir.remove();
});

const doctor = async (args: string[], env: Record<string, string> = {}) => {
  const r = await sentinel(
    [
      "client",
      "doctor",
      "--json",
      "--no-ipv6",
      "--dns-resolver",
      `127.0.0.1:${dns.port}`,
      "--timeout",
      "2s",
      ...args,
    ],
    {
      env: { SENTINEL_TOKEN: token, ...env },
    },
  );
  const checks = (JSON.parse(r.stdout || '{"checks":[]}') as { checks: Check[] }).checks;
  return { ...r, checks, by: (name: string) => checks.find((c) => c.name === name) };
};

test("everything fine: every check passes and one real report was accepted", async () => {
  const r = await doctor(["--ip4-provider", echo.url]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.by("server")?.status).toBe("ok");
  expect(r.by("clock")).toMatchObject({ status: "ok" });
  expect(r.by("token")).toMatchObject({ status: "ok" });
  // the server's own verdict on the report, from its 202 answer
  expect(r.by("token")?.detail).toMatch(/accepted; the server says: (green|yellow|red) \(.+\)/);
  expect(r.by("providers ipv4")?.detail).toContain("203.0.113.77");
  expect(r.by("dns")?.detail).toContain(`127.0.0.1:${dns.port}`);
  expect(r.by("namespace")?.detail).toMatch(/net:\[\d+\]/);
  const store = await openServerStore(dir.path);
  expect((await store.clients.getByName("pi"))?.lastReportAt).toBeNumber();
  await store.close();
});

test("a dead provider, a silent resolver and a wrong secret each fail with a fix line; exit 1", async () => {
  dns.silent = true;
  const wrong = `st1.${Buffer.from(JSON.stringify({ u: server.url, c: "c_nobody", s: "x" })).toString("base64url")}`;
  const r = await doctor(["--ip4-provider", dead.url, "--no-whoami"], { SENTINEL_TOKEN: wrong });
  dns.silent = false;
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("check(s) failed");
  for (const name of ["providers ipv4", "dns", "token"]) {
    expect(r.by(name)?.status, name).toBe("fail");
    expect(r.by(name)?.fix, name).toBeString();
  }
  expect(r.by("token")?.fix).toContain("sentinel clients rotate");
});

test("an unreachable server and an untrusted certificate are told apart", async () => {
  // port 1 on loopback: nothing listens there
  const closed = "http://127.0.0.1:1";
  const down = await doctor(["--server", closed, "--ip4-provider", echo.url]);
  expect(down.by("server")).toMatchObject({
    status: "fail",
    detail: `${closed} unreachable (connection refused)`,
  });
  expect(down.by("server")?.fix).toContain("systemctl status");
  // said once: not again as a failing provider (the server's whoami)
  expect(down.checks.filter((c) => c.detail.includes(closed)).map((c) => c.name)).toEqual(["server"]);
  expect(down.by("token")?.status).toBe("warn");

  const tlsDir = tempDir();
  const cert = selfSignedCert(tlsDir.path);
  const https: ServerProcess = await startServerProcess([
    "--data-dir",
    join(tlsDir.path, "data"),
    "--tls-cert",
    cert.cert,
    "--tls-key",
    cert.key,
  ]);
  try {
    const untrusted = await doctor(["--server", https.url, "--ip4-provider", echo.url]);
    expect(untrusted.by("server")?.detail).toContain("TLS");
    expect(untrusted.by("server")?.fix).toContain("NODE_EXTRA_CA_CERTS");
    const trusted = await doctor(["--server", https.url, "--ip4-provider", echo.url], {
      NODE_EXTRA_CA_CERTS: cert.cert,
    });
    expect(trusted.by("server")).toMatchObject({ status: "ok" });
    expect(trusted.by("server")?.detail).toContain("TLS verified");
    // that server does not know this client: the token check says so
    expect(trusted.by("token")?.status).toBe("fail");
  } finally {
    await https.stop();
    tlsDir.remove();
  }
}, 20_000);

test("the doctor recipe in docs/operations.md works with the env files install.sh writes", async () => {
  const docs = await Bun.file(join(import.meta.dir, "../docs/operations.md")).text();
  const recipe = docs.split("\n").find((l) => l.includes("ip netns exec vpn") && l.includes("client doctor"));
  expect(recipe).toBeString();
  const root = tempDir();
  try {
    // a client installed the documented way, for namespace "vpn", with its token
    const standIn = join(root.path, "sentinel-linux-x64");
    await Bun.write(standIn, "#!/bin/sh\n");
    const install = await run(
      [
        "sh",
        join(import.meta.dir, "../install.sh"),
        "client",
        "--root",
        root.path,
        "--binary",
        standIn,
        "--netns",
        "vpn",
      ],
      { env: { SENTINEL_ARCH: "x64", SENTINEL_TOKEN: token } },
    );
    expect(install.code, install.stderr).toBe(0);
    // settings a user adds to client.env (here: providers and resolver on loopback)
    const shared = join(root.path, "etc/vpn-sentinel/client.env");
    await Bun.write(
      shared,
      `${await Bun.file(shared).text()}# loopback fakes for this test\nSENTINEL_IP4_PROVIDER=${echo.url}\nSENTINEL_NO_IPV6=true\nSENTINEL_DNS_RESOLVER=127.0.0.1:${dns.port}\n`,
    );
    // the recipe as documented, minus what needs a real namespace and user, with `sentinel` on PATH
    const command = (recipe as string)
      .replace(/^.*?sh -c /, "sh -c ")
      .replaceAll("/etc/vpn-sentinel/", `${root.path}/etc/vpn-sentinel/`);
    const bin = join(root.path, "bin");
    await Bun.write(
      join(bin, "sentinel"),
      `#!/bin/sh\nexec bun ${join(import.meta.dir, "../src/main.ts")} "$@"\n`,
    );
    chmodSync(join(bin, "sentinel"), 0o755);
    const r = await run(["sh", "-c", command], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.stdout).toContain("[ ok ] token: a signed report was accepted");
    expect(r.code, r.stdout + r.stderr).toBe(0);
  } finally {
    root.remove();
  }
}, 20_000);

describe("judgements", () => {
  test("clock skew: in step, warn beyond 30 s, fail beyond the 300 s the server accepts", async () => {
    const t = Date.parse("2026-01-01T12:00:00Z");
    expect(judgeClock(new Date(t).toUTCString(), t - 100, t + 100).status).toBe("ok");
    expect(judgeClock(new Date(t + 60_000).toUTCString(), t, t)).toMatchObject({
      status: "warn",
      detail: expect.stringContaining("60 s behind"),
    });
    expect(judgeClock(new Date(t - 400_000).toUTCString(), t, t)).toMatchObject({
      status: "fail",
      detail: expect.stringContaining("400 s ahead"),
    });
    expect(judgeClock(null, t, t).status).toBe("warn");
  });

  test("namespace: named, host, or anonymous", async () => {
    expect(judgeNamespace({ own: "net:[1]", init: "net:[1]", name: "" }).detail).toContain("host");
    expect(judgeNamespace({ own: "net:[2]", init: "net:[1]", name: "wg" }).detail).toContain('"wg"');
    expect(judgeNamespace({ own: "net:[2]", init: null, name: null }).detail).toContain("separate");
  });

  test("errors and answers map to fixes", async () => {
    expect(
      judgeServerError(
        "https://x",
        Object.assign(new Error("self signed"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }),
      ).fix,
    ).toContain("CA");
    expect(
      judgeServerError("http://x", Object.assign(new Error("timed out"), { name: "TimeoutError" })).fix,
    ).toContain("routes");
    expect(judgeReport(503, "storage_unavailable", null).fix).toContain("/readyz");
    expect(judgeReport(202, null, null).status).toBe("ok");
  });
});
