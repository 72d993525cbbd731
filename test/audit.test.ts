/**
 * The audit log records every admin action, whatever the door: the dashboard (test/web-auth),
 * the API with a bearer token, the CLI on the data dir, and the Telegram bot's commands. Each
 * entry says who (user, "token:<name>", "cli", "telegram:<chat>"), what, on what, and from where
 * when there is an address; a refused action leaves no entry, and no entry carries a secret.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApiToken } from "../src/server/auth/api-tokens.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { Broker } from "../src/server/broker.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { SentinelBot } from "../src/server/notify/channels/telegram/bot.ts";
import type { AuditEntry } from "../src/server/store/index.ts";
import { FAKE_BOT_INFO, FakeTelegram } from "./fakes/telegram.ts";
import { sentinel } from "./helpers/cli.ts";
import { initDataDir, openServerStore, quietLogger, startTestServer, tempDir } from "./helpers/server.ts";

const PASSWORD = "Correct-Horse-Battery-Staple-9";

async function auditOf(dataDir: string): Promise<AuditEntry[]> {
  const store = await openServerStore(dataDir);
  const entries = (await store.auth.listAudit({ limit: 1000 })).reverse();
  await store.close();
  return entries;
}
const last = async (dataDir: string) => (await auditOf(dataDir)).at(-1);

describe("the API door (bearer tokens)", () => {
  const dir = tempDir();
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let admin: string;
  let viewer: string;
  let clientId: string;

  beforeAll(async () => {
    const store = await openServerStore(dir.path);
    clientId = (await enrollClient(store, loadKeyring(dir.path), "pi", "http://x", Date.now())).id;
    await enrollClient(store, loadKeyring(dir.path), "doomed", "http://x", Date.now());
    admin = (await createApiToken(store, "ops", "admin", Date.now())).token;
    viewer = (await createApiToken(store, "wall", "viewer", Date.now())).token;
    await store.close();
    server = await startTestServer({ dataDir: dir.path });
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });

  const call = (method: string, path: string, token: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  test("PATCH and DELETE of a client are recorded with the token's name and the address", async () => {
    expect((await call("PATCH", `/api/v1/clients/${clientId}`, admin, { interval: 120 })).status).toBe(200);
    expect(await last(dir.path)).toMatchObject({
      actor: "token:ops",
      action: "client.settings",
      target: "pi",
      sourceIp: "127.0.0.1",
      detail: { client_id: clientId, changed: { interval_s: 120 } },
    });
    const doomed = (await auditOf(dir.path)).length;
    const list = (await (await call("GET", "/api/v1/clients", admin)).json()) as {
      clients: { id: string; name: string }[];
    };
    const id = list.clients.find((c) => c.name === "doomed")?.id as string;
    expect((await auditOf(dir.path)).length).toBe(doomed); // reading is not an admin action
    expect((await call("DELETE", `/api/v1/clients/${id}`, admin)).status).toBe(204);
    expect(await last(dir.path)).toMatchObject({
      actor: "token:ops",
      action: "client.delete",
      target: "doomed",
      detail: { client_id: id },
    });
  });

  test("refused changes leave no entry: a viewer token, a bad value, an unknown client", async () => {
    const before = (await auditOf(dir.path)).length;
    expect((await call("PATCH", `/api/v1/clients/${clientId}`, viewer, { interval: 60 })).status).toBe(403);
    expect((await call("PATCH", `/api/v1/clients/${clientId}`, admin, { interval: -1 })).status).toBe(400);
    expect((await call("DELETE", "/api/v1/clients/c_nobody", admin)).status).toBe(404);
    expect((await auditOf(dir.path)).length).toBe(before);
  });

  test("export and import are recorded (what travelled, never a hash or secret)", async () => {
    const exported = await call("GET", "/api/v1/export", admin);
    expect(exported.status).toBe(200);
    const doc = await exported.text();
    expect(await last(dir.path)).toMatchObject({
      actor: "token:ops",
      action: "export",
      detail: { clients: 1 },
    });
    expect((await call("POST", "/api/v1/import", admin, JSON.parse(doc))).status).toBe(200);
    const entry = await last(dir.path);
    expect(entry).toMatchObject({
      actor: "token:ops",
      action: "import",
      detail: { created: { clients: 0 }, skipped: { clients: ["pi"] } },
    });
    const sealed = (JSON.parse(doc) as { clients: { secret_sealed: string }[] }).clients[0]?.secret_sealed;
    expect(JSON.stringify(await auditOf(dir.path))).not.toContain(sealed as string);
  });
});

describe("the CLI door", () => {
  const dir = tempDir();
  beforeAll(() => initDataDir(dir.path));
  afterAll(() => dir.remove());
  const cli = async (args: string[], stdin?: string) => {
    const r = await sentinel([...args, "--data-dir", dir.path], stdin === undefined ? {} : { stdin });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  test("clients add, rotate and remove", async () => {
    const added = JSON.parse(await cli(["clients", "add", "nas", "--json"])) as {
      id: string;
      secret: string;
    };
    expect(await last(dir.path)).toMatchObject({
      actor: "cli",
      action: "client.add",
      target: "nas",
      sourceIp: null,
      detail: { client_id: added.id },
    });
    await cli(["clients", "rotate", "nas", "--grace", "1h"]);
    expect(await last(dir.path)).toMatchObject({ actor: "cli", action: "client.rotate", target: "nas" });
    await cli(["clients", "remove", "nas"]);
    expect(await last(dir.path)).toMatchObject({ actor: "cli", action: "client.delete", target: "nas" });
    expect(JSON.stringify(await auditOf(dir.path))).not.toContain(added.secret);
  });

  test("tokens add and revoke (the token itself is never recorded)", async () => {
    const { token, id } = JSON.parse(
      await cli(["tokens", "add", "grafana", "--role", "viewer", "--json"]),
    ) as {
      token: string;
      id: string;
    };
    expect(await last(dir.path)).toMatchObject({
      actor: "cli",
      action: "token.add",
      target: "grafana",
      detail: { role: "viewer", token_id: id },
    });
    await cli(["tokens", "revoke", "grafana"]);
    expect(await last(dir.path)).toMatchObject({ actor: "cli", action: "token.revoke", target: "grafana" });
    expect(JSON.stringify(await auditOf(dir.path))).not.toContain(token);
  });

  test("users add, passwd and remove", async () => {
    await cli(["users", "add", "alice", "--role", "admin"], `${PASSWORD}\n`);
    expect(await last(dir.path)).toMatchObject({ actor: "cli", action: "user.add", target: "alice" });
    await cli(["users", "passwd", "alice"], `${PASSWORD}-2\n`);
    expect(await last(dir.path)).toMatchObject({ actor: "cli", action: "user.password", target: "alice" });
    await cli(["users", "add", "bob", "--role", "admin"], `${PASSWORD}\n`);
    await cli(["users", "remove", "bob"]);
    expect(await last(dir.path)).toMatchObject({ actor: "cli", action: "user.remove", target: "bob" });
    expect(JSON.stringify(await auditOf(dir.path))).not.toContain(PASSWORD);
  });

  test("import", async () => {
    const source = tempDir();
    try {
      const store = await openServerStore(source.path);
      await enrollClient(store, loadKeyring(source.path), "from-elsewhere", "http://x", Date.now());
      await store.close();
      const doc = await sentinel(["export", "-", "--data-dir", source.path]);
      expect(doc.code, doc.stderr).toBe(0);
      await cli(["import", "-", "--source-key-file", `${source.path}/server.key`], doc.stdout);
      expect(await last(dir.path)).toMatchObject({
        actor: "cli",
        action: "import",
        detail: { created: { clients: 1 }, resealed: 1 },
      });
    } finally {
      source.remove();
    }
  });

  test("server key rotate, reseal and drop-previous", async () => {
    const before = (JSON.parse(await cli(["server-key", "status", "--json"])) as { current: string }).current;
    await cli(["server-key", "rotate"]);
    const after = (JSON.parse(await cli(["server-key", "status", "--json"])) as { current: string }).current;
    expect(await last(dir.path)).toMatchObject({
      actor: "cli",
      action: "server_key.rotate",
      target: after,
      detail: { previous_key_id: before, resealed: 1 },
    });
    await cli(["server-key", "reseal"]);
    expect(await last(dir.path)).toMatchObject({ actor: "cli", action: "server_key.reseal", target: after });
    await cli(["server-key", "drop-previous"]);
    expect(await last(dir.path)).toMatchObject({
      actor: "cli",
      action: "server_key.drop_previous",
      target: before,
    });
  });
});

describe("the Telegram door", () => {
  test("/mute and /pause are recorded with the chat that asked", async () => {
    const fake = FakeTelegram.start();
    const dir = tempDir();
    const store = await openServerStore(dir.path);
    await store.clients.create({ id: "c_laptop", name: "laptop", createdAt: Date.now(), secretEnc: "x" });
    const bot = new SentinelBot({
      token: "123456:TEST-token-for-the-fake-bot-api",
      apiRoot: fake.url,
      botInfo: FAKE_BOT_INFO,
      chats: ["111"],
      store,
      broker: new Broker(),
      now: Date.now,
      logger: quietLogger(),
      publicUrl: null,
      timeZone: "UTC",
    });
    bot.startPolling();
    try {
      const ask = async (text: string) => {
        const before = fake.delivered(111).length;
        fake.pushMessage(111, text);
        await fake.waitFor(() => fake.delivered(111).length > before);
      };
      await ask("/mute laptop 2h");
      await ask("/pause laptop");
      const entries = (await store.auth.listAudit({ limit: 10 })).reverse();
      expect(entries.map((e) => [e.actor, e.action, e.target])).toEqual([
        ["telegram:111", "client.mute", "laptop"],
        ["telegram:111", "client.pause", "laptop"],
      ]);
      expect(entries[0]?.detail).toMatchObject({ client_id: "c_laptop" });
    } finally {
      await bot.stop();
      await store.close();
      await fake.stop();
      dir.remove();
    }
  });
});
