/**
 * The command line: `sentinel notify test URL...` against fake services, and `--notify` URLs
 * refused at start with one line, exit code 2 and no secret in it (flags, env, TOML).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveOptions } from "../src/config/options.ts";
import { notifySpecs } from "../src/server/notify/options.ts";
import { type FakeService, fakeNtfy, fakeWebhookReceiver } from "./fakes/notify-services.ts";
import { FAKE_BOT_INFO, FakeTelegram } from "./fakes/telegram.ts";
import { sentinel } from "./helpers/cli.ts";
import { tempDir } from "./helpers/server.ts";

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
const TOKEN = `${FAKE_BOT_INFO.id}:AAF-fake-telegram-token-0123456789`;
let ntfy: FakeService;
let hook: FakeService;
let telegram: FakeTelegram;
const dir = tempDir();

beforeAll(() => {
  ntfy = fakeNtfy({ auth: "Bearer tk_cli_secret" });
  hook = fakeWebhookReceiver(SECRET);
  telegram = FakeTelegram.start();
});
afterAll(async () => {
  await ntfy.stop();
  await hook.stop();
  await telegram.stop();
  dir.remove();
});

test("notify test sends one test message per URL and reports each channel, secrets masked", async () => {
  const r = await sentinel([
    "notify",
    "test",
    `ntfy://${ntfy.host}/cli?token=tk_cli_secret`,
    `webhook+http://${hook.host}/hook?secret=${SECRET}`,
    `tgram://${TOKEN}/4242:7`,
    "--telegram-api-root",
    telegram.url,
    "--public-url",
    "https://sentinel.example",
  ]);
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split("\n")).toEqual([
    `ok     ntfy://${ntfy.host}/cli?token=***`,
    `ok     webhook+http://${hook.host}/hook?secret=***`,
    `ok     tgram://${FAKE_BOT_INFO.id}:***/4242:7`,
  ]);
  expect((ntfy.delivered()[0]?.body as { title?: string } | undefined)?.title).toBe(
    "ℹ️ Test message: VPN Sentinel alerts reach this chat",
  );
  expect(hook.delivered()[0]?.body).toMatchObject({ type: "test" });
  expect(telegram.delivered(4242)[0]?.params.message_thread_id).toBe(7);
  expect(r.stdout + r.stderr).not.toContain("tk_cli_secret");
});

test("a failing channel is named with the service's answer and exit code 1; the URLs may come from SENTINEL_NOTIFY", async () => {
  const r = await sentinel(["notify", "test"], {
    env: {
      SENTINEL_NOTIFY: `ntfy://${ntfy.host}/a?token=tk_cli_secret&only=*.started,client.*,ntfy://${ntfy.host}/b?token=tk_wrong`,
    },
  });
  expect(r.code).toBe(1);
  // the name of a channel leaves out its filters
  expect(r.stdout).toContain(`ok     ntfy://${ntfy.host}/a?token=***\n`);
  expect(r.stdout).toContain(`FAILED ntfy://${ntfy.host}/b?token=***: ntfy 403`);
  expect(r.stderr.trim()).toBe("sentinel: 1 of 2 channels failed");
  expect(r.stdout + r.stderr).not.toContain("tk_wrong");
});

test("the server refuses a bad --notify URL at start: one line naming the option, exit code 2, no secret", async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [
      ["--notify", "ntfys://user:hunter2@ntfy.example"],
      {},
      "sentinel: --notify: ntfys://user:***@ntfy.example: needs a topic: ntfys://host/TOPIC",
    ],
    [["--notify", "pushover://hunter2@x"], {}, 'sentinel: --notify: unknown scheme "pushover://"'],
    [
      [],
      { SENTINEL_NOTIFY: "gotify://push.example/hunter2?min=purple" },
      "sentinel: SENTINEL_NOTIFY: gotify://push.example/***?min=purple: ?min=purple must be red, yellow or info",
    ],
    [
      ["--notify", "webhook+https://hooks.example/x?secret=hunter2"],
      {},
      "sentinel: --notify: webhook+https://hooks.example/x?secret=***: ?secret= must be a Standard Webhooks secret",
    ],
    [
      ["--notify", "ntfy://ntfy.example/t?only=bypas.started"],
      {},
      "sentinel: --notify: ntfy://ntfy.example/t?only=bypas.started: ?only=bypas.started matches no event kind",
    ],
    [
      ["--notify", "tgram://123:hunter2/42"],
      {},
      "sentinel: --notify: tgram://123:***/42: the bot token does not look like",
    ],
  ];
  for (const [args, env, expected] of cases) {
    const r = await sentinel(["server", "--data-dir", join(dir.path, "data"), ...args], { env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith(expected);
    expect(r.stderr + r.stdout).not.toContain("hunter2");
  }
});

test("TOML lists and env values keep commas inside URLs; --help shows no secret", async () => {
  const file = join(dir.path, "sentinel.toml");
  writeFileSync(
    file,
    `notify = ["ntfy://h/a?only=bypass.*,dns_leak.*", "smtp://u:p@mail.example/?from=a@example.org&to=b@example.org,c@example.org"]\n`,
  );
  const { commonSpecs, loadOptions } = await import("../src/cli/common.ts");
  const specs = { notify: notifySpecs.notify, config: commonSpecs.config };
  const fromFile = loadOptions(specs, ["--config", file], "server", {}).options.notify;
  expect(fromFile).toEqual([
    "ntfy://h/a?only=bypass.*,dns_leak.*",
    "smtp://u:p@mail.example/?from=a@example.org&to=b@example.org,c@example.org",
  ]);
  const fromEnv = resolveOptions(notifySpecs, {
    argv: [],
    env: { SENTINEL_NOTIFY: "ntfy://h/a?clients=x,y, gotify://g/T?only=client.*,bypass.*" },
  }).options.notify;
  expect(fromEnv).toEqual(["ntfy://h/a?clients=x,y", "gotify://g/T?only=client.*,bypass.*"]);
  const help = await sentinel(["server", "--help"], { env: { SENTINEL_NOTIFY: "ntfy://u:hunter2@h/t" } });
  expect(help.stdout).toContain("--notify");
  expect(help.stdout).not.toContain("hunter2");
});
