/** Replicas share one server key: the database remembers its id; --server-key-file names the key. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { claimKeyFingerprint, KeyMismatchError, keyMismatch } from "../src/server/auth/key-fingerprint.ts";
import { KeyError, loadKeyring } from "../src/server/auth/keyring.ts";
import { openStore } from "../src/server/store/index.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), "sentinel-key-"));
  dirs.push(d);
  return d;
};

test("the first replica records its key id; a replica with another key is refused, and readiness notices a change", async () => {
  const store = await openStore({ dataDir: ":memory:" });
  try {
    await claimKeyFingerprint(store.meta, "aaaa1111");
    await claimKeyFingerprint(store.meta, "aaaa1111");
    const refused = await claimKeyFingerprint(store.meta, "bbbb2222").catch((e) => e);
    expect(refused).toBeInstanceOf(KeyMismatchError);
    expect(refused.message).toContain("(id bbbb2222)");
    expect(refused.message).toContain("(id aaaa1111)");
    expect(refused.message).toContain("every replica needs the same server key");
    expect(await keyMismatch(store.meta, "aaaa1111")).toBeNull();
    expect(await keyMismatch(store.meta, "bbbb2222")).toContain("not the key");
  } finally {
    await store.close();
  }
});

test("--server-key-file: the key comes from that file, which must exist; nothing is created in the data dir", () => {
  const data = dir();
  const keyFile = join(dir(), "replica.key");
  expect(() => loadKeyring(data, {}, keyFile)).toThrow(KeyError);
  writeFileSync(keyFile, `${Buffer.alloc(32, 7).toString("base64")}\n`);
  const fromFile = loadKeyring(data, {}, keyFile);
  const again = loadKeyring(dir(), {}, keyFile);
  expect(fromFile.currentId).toBe(again.currentId);
  expect(again.decrypt(fromFile.encrypt("secret"))).toBe("secret");
  expect(Bun.file(join(data, "server.key")).size).toBe(0);
});
