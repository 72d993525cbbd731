/** First run: the one-time setup link, and `sentinel users add|list|passwd|remove` with the password on stdin. */
import { afterAll, expect, test } from "bun:test";
import { createConsola } from "consola";
import { ensureSetupToken } from "../src/server/auth/users.ts";
import { sentinel } from "./helpers/cli.ts";
import { initDataDir, openServerStore, tempDir } from "./helpers/server.ts";
import { buildWebApp, PASSWORD } from "./web-helpers.ts";

const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

test("with no users the server logs a one-time setup URL; it creates the first admin once", async () => {
  const w = await buildWebApp();
  for (const u of await w.store.auth.listUsers()) await w.store.auth.removeUser(u.id);
  const lines: string[] = [];
  const logger = createConsola({ level: 3, reporters: [{ log: (o) => void lines.push(o.args.join(" ")) }] });
  const token = await ensureSetupToken(w.store, logger, "https://vpn.example/");
  expect(token).not.toBeNull();
  expect(lines.join("\n")).toContain(`https://vpn.example/setup?token=${token}`);

  expect((await w.handle("/setup?token=wrong")).status).toBe(403);
  const form = await w.handle(`/setup?token=${token}`);
  expect(form.status).toBe(200);
  const mismatch = await w.handle("/setup", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      token: token as string,
      name: "root",
      password: PASSWORD,
      password2: "other",
    }),
  });
  expect(mismatch.status).toBe(400);
  const ok = await w.handle("/setup", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      token: token as string,
      name: "root",
      password: PASSWORD,
      password2: PASSWORD,
    }),
  });
  expect(ok.status).toBe(303);
  expect(ok.headers.get("set-cookie")).toContain("sentinel_session=");
  expect((await w.store.auth.getUserByName("root"))?.role).toBe("admin");
  expect(
    (await w.store.auth.listAudit({ limit: 5 })).some((a) => a.actor === "setup" && a.action === "user.add"),
  ).toBe(true);
  // used up: the same link now leads to the sign-in page, and a second start logs nothing
  expect((await w.handle(`/setup?token=${token}`)).status).toBe(303);
  expect(await ensureSetupToken(w.store, logger, "https://vpn.example")).toBeNull();
  await w.close();
});

test("sentinel users add reads the password from stdin; list, passwd and remove work; the last admin is kept", async () => {
  const dir = tempDir();
  dirs.push(dir);
  await initDataDir(dir.path);
  const d = ["--data-dir", dir.path];
  const add = await sentinel(["users", "add", "alice", "--role", "admin", ...d], { stdin: `${PASSWORD}\n` });
  expect(add.stderr).toBe("");
  expect(add.code).toBe(0);
  expect(add.stdout).toContain('Created admin "alice"');
  expect(add.stdout).not.toContain(PASSWORD);

  const weak = await sentinel(["users", "add", "bob", ...d], { stdin: "short\n" });
  expect(weak.code).toBe(2);
  expect(weak.stderr).toContain("at least 10 characters");

  const list = await sentinel(["users", "list", "--json", ...d]);
  expect(JSON.parse(list.stdout)).toMatchObject([{ name: "alice", role: "admin", locked: false }]);

  expect((await sentinel(["users", "passwd", "alice", ...d], { stdin: "a new long password\n" })).code).toBe(
    0,
  );
  const store = await openServerStore(dir.path);
  const alice = await store.auth.getUserByName("alice");
  expect(await Bun.password.verify("a new long password", alice?.passwordHash ?? "")).toBe(true);
  expect(alice?.passwordHash).toStartWith("$argon2id$");
  await store.close();

  const last = await sentinel(["users", "remove", "alice", ...d]);
  expect(last.code).toBe(2);
  expect(last.stderr).toContain("last admin");
  expect((await sentinel(["users", "remove", "alice", "--force", ...d])).code).toBe(0);
});
