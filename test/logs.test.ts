/**
 * Secrets never reach the logs: a real server at debug level with JSON logs is enrolled,
 * reported to, scraped and logged into with right and wrong credentials; then every secret
 * is searched for in the captured log (and in the client's own log).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeDns } from "./fakes/dns.ts";
import { startFakeEcho } from "./fakes/echo.ts";
import { sentinel } from "./helpers/cli.ts";
import { type ServerProcess, startServerProcess } from "./helpers/process-server.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { initDataDir, tempDir } from "./helpers/server.ts";

const dir = tempDir();
const PASSWORD = "Correct-Horse-Battery-Staple-9";
const LEGACY_KEY = "legacy-key-4c1e0b7d2f";
const METRICS_TOKEN = "metrics-token-9a8b7c6d";
const WRONG_API_TOKEN = "sst_thisIsAWrongTokenButStillASecret0123";
const WRONG_PASSWORD = "Wrong-Password-Also-Secret-77";
let server: ServerProcess;
let client: { id: string; secret: string; token: string };
let apiToken: string;

beforeAll(async () => {
  await initDataDir(dir.path);
  const add = await sentinel(["clients", "add", "pi", "--data-dir", dir.path, "--json"]);
  expect(add.code).toBe(0);
  client = JSON.parse(add.stdout);
  const tok = await sentinel(["tokens", "add", "ops", "--role", "admin", "--data-dir", dir.path, "--json"]);
  expect(tok.code).toBe(0);
  apiToken = JSON.parse(tok.stdout).token;
  const user = await sentinel(["users", "add", "admin", "--role", "admin", "--data-dir", dir.path], {
    stdin: `${PASSWORD}\n`,
  });
  expect(user.code, user.stderr).toBe(0);
  server = await startServerProcess(
    ["--data-dir", dir.path, "--log-format", "json", "--log-level", "debug"],
    {
      SENTINEL_LEGACY_API_KEY: LEGACY_KEY,
      SENTINEL_METRICS_TOKEN: METRICS_TOKEN,
    },
  );
});
afterAll(async () => {
  if (server.proc.exitCode === null) await server.stop();
  dir.remove();
});

async function login(password: string): Promise<{ status: number; session: string | null }> {
  const page = await fetch(`${server.url}/login`);
  const cookie = (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie, origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ name: "admin", password, _csrf: csrf }).toString(),
  });
  const set = res.headers.get("set-cookie") ?? "";
  return { status: res.status, session: /=([^;]+)/.exec(set)?.[1] ?? null };
}

test("tokens, secrets, passwords and cookies never appear in the server's or the client's log", async () => {
  const body = JSON.stringify(sampleReport());
  expect(
    (await fetch(signedPost(server.url, client, body, { headers: { "X-Request-Id": "req-logs-42" } })))
      .status,
  ).toBe(202);
  expect(
    (await fetch(signedPost(server.url, { id: client.id, secret: "not-the-secret" }, body))).status,
  ).toBe(401);
  const api = (token: string) =>
    fetch(`${server.url}/api/v1/clients?token=${token}`, { headers: { Authorization: `Bearer ${token}` } });
  expect((await api(apiToken)).status).toBe(200);
  expect((await api(WRONG_API_TOKEN)).status).toBe(401);
  const legacy = (key: string) =>
    fetch(`${server.url}/api/v1/keepalive`, {
      method: "POST",
      headers: { "X-API-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify({ client_id: "old-python", public_ip: "198.51.100.9" }),
    });
  expect((await legacy(LEGACY_KEY)).status).toBeLessThan(300);
  expect((await legacy(`${LEGACY_KEY}-wrong`)).status).toBe(401);
  expect(
    (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).status,
  ).toBe(200);
  expect(
    (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}x` } })).status,
  ).toBe(401);
  expect((await login(WRONG_PASSWORD)).status).toBe(401);
  const ok = await login(PASSWORD);
  expect(ok.status).toBe(303);
  expect(ok.session).toBeString();

  // the real client, at debug level too, against fakes (never a real provider)
  const echo = startFakeEcho({ answer: "198.51.100.7" });
  const dns = await startFakeDns();
  const run = await sentinel(
    [
      "client",
      "--once",
      "--server",
      server.url,
      "--log-format",
      "json",
      "--log-level",
      "debug",
      "--ip4-provider",
      echo.url,
      "--no-ipv6",
      "--no-whoami",
      "--dns-resolver",
      `127.0.0.1:${dns.port}`,
      "--spool-dir",
      `${dir.path}/spool`,
    ],
    { env: { SENTINEL_TOKEN: client.token } },
  );
  echo.stop();
  await dns.stop();
  expect(run.code, run.stderr).toBe(0);

  const log = await server.stop();
  const lines = log.trim().split("\n");
  for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  // request ids are logged, with the method, path and status
  expect(log).toContain('"request_id":"req-logs-42"');
  expect(lines.some((l) => l.includes("POST /api/v1/reports 202"))).toBe(true);

  const secrets = {
    client_secret: client.secret,
    enrollment_token: client.token,
    token_payload: client.token.slice(4),
    api_token: apiToken,
    wrong_api_token: WRONG_API_TOKEN,
    legacy_key: LEGACY_KEY,
    metrics_token: METRICS_TOKEN,
    password: PASSWORD,
    wrong_password: WRONG_PASSWORD,
    session_cookie: ok.session as string,
  };
  for (const [what, value] of Object.entries(secrets)) {
    expect(log.includes(value), `${what} in the server log`).toBe(false);
    expect(`${run.stdout}${run.stderr}`.includes(value), `${what} in the client log`).toBe(false);
  }
});

/**
 * A Telegram bot token lives in every Bot API URL (/bot<token>/<method>): an error that carries
 * the URL (a failed fetch names its path) must not bring it into the log, however the Bot API
 * fails and whatever stops the bot.
 */
describe("the Telegram bot token never reaches the log", () => {
  const TOKEN = "7031234567:AAHk3vQm9ZpL0wXy2RtU5sNbC8dEfGhIjKl";

  async function runAgainst(apiRoot: string): Promise<string> {
    const data = tempDir();
    try {
      await initDataDir(data.path);
      const add = await sentinel(["clients", "add", "pi", "--data-dir", data.path, "--json"]);
      const pi = JSON.parse(add.stdout) as { id: string; secret: string };
      const s = await startServerProcess(
        ["--data-dir", data.path, "--log-format", "json", "--log-level", "debug", "--notify-server-started"],
        {
          SENTINEL_TELEGRAM_TOKEN: TOKEN,
          SENTINEL_TELEGRAM_CHAT: "424242",
          SENTINEL_TELEGRAM_API_ROOT: apiRoot,
        },
      );
      // an alert to deliver (the first report of a client at the home address is a bypass)
      await fetch(signedPost(s.url, pi, JSON.stringify(sampleReport())));
      await Bun.sleep(4_000); // polling fails and retries; the outbox tries to deliver
      s.proc.kill("SIGTERM");
      // stopping is bounded elsewhere (test/shutdown.test.ts); here only the log counts
      if ((await Promise.race([s.proc.exited, Bun.sleep(8_000).then(() => "slow")])) === "slow")
        s.proc.kill("SIGKILL");
      await s.proc.exited;
      await Bun.sleep(100);
      return s.log();
    } finally {
      data.remove();
    }
  }

  /** `exercised`: a line that shows the run went through the path under test */
  const expectNoToken = (log: string, exercised: string) => {
    expect(log).toContain(exercised);
    expect(log.includes(TOKEN), "the whole token in the log").toBe(false);
    expect(log.includes(TOKEN.split(":")[1] as string), "the token's secret half in the log").toBe(false);
  };

  test("an unreachable Bot API (connection refused)", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    expectNoToken(await runAgainst(`http://127.0.0.1:${port}`), "telegram"); // its failures were logged
  }, 30_000);

  test("a black-holed Bot API (accepts the connection, never answers)", async () => {
    const hole = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      // nothing fails while the requests hang; the bot is stopped with them in flight
      expectNoToken(await runAgainst(`http://127.0.0.1:${hole.port}`), '"msg":"stopped"');
    } finally {
      hole.stop(true);
    }
  }, 30_000);
});
