/**
 * `sentinel server-key status|rotate|drop-previous`: the key that seals client secrets.
 *
 * rotate: server.key -> server.key.previous, a new server.key, then every client secret is
 * re-sealed with the new key. The order matters for crashes: at every step the files on disk
 * open every sealed secret in the database (a crash before re-sealing leaves old-key secrets
 * and the old key as previous; rotate again or run the server, which reads both).
 * drop-previous: deletes server.key.previous once nothing is sealed with it, so a database
 * copy and the old key together no longer reveal a secret.
 * The server must be stopped: it loads the keys at start.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import type { Keyring } from "../server/auth/keyring.ts";
import type { Store } from "../server/store/index.ts";
import { auditCli } from "./audit.ts";
import { commonSpecs, loadOptions } from "./common.ts";
import type { DataLocation } from "./data-dir.ts";
import { dataDirSpecs } from "./server-options.ts";

export const serverKeySpecs = {
  ...dataDirSpecs,
  json: { kind: "boolean", description: "Print JSON", flagOnly: true },
  config: commonSpecs.config,
} satisfies OptionSpecs;

const fail = (message: string) => Object.assign(new Error(message), { exitCode: 1 });

async function deps() {
  const [keyring, lock, fingerprint] = await Promise.all([
    import("../server/auth/keyring.ts"),
    import("../server/data-lock.ts"),
    import("../server/auth/key-fingerprint.ts"),
  ]);
  const { openStore } = await import("../server/store/index.ts");
  const openLocation = (o: DataLocation) =>
    openStore({ dataDir: o.dataDir, database: o.database, postgres: { poolSize: 2 } });
  return { ...keyring, ...lock, ...fingerprint, openStore: openLocation };
}

const keyFileOf = (o: DataLocation, d: { SERVER_KEY_FILE: string }) =>
  o.serverKeyFile ?? join(o.dataDir, d.SERVER_KEY_FILE);

/** Writes a 0600 file atomically: readers see the old key or the new one, never a torn one. */
function writeKeyFile(path: string, key: Buffer): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${key.toString("base64")}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Counts sealed secrets (clients' current and previous, channel URLs) per key id. */
async function sealedByKey(store: Store): Promise<Record<string, number>> {
  const sealed = [
    ...(await store.clients.list()).flatMap((c) => [c.secretEnc, c.prevSecretEnc]),
    ...(await store.channels.list()).map((c) => c.urlSealed),
  ];
  const out: Record<string, number> = {};
  for (const s of sealed) if (s) out[s.split(":")[1] ?? "?"] = (out[s.split(":")[1] ?? "?"] ?? 0) + 1;
  return out;
}

/** Re-seals every client secret and channel URL with the keyring's current key; returns how many clients and channels. */
async function resealAll(store: Store, keyring: Keyring): Promise<number> {
  const reseal = (sealed: string) =>
    keyring.isCurrent(sealed) ? sealed : keyring.encrypt(keyring.decrypt(sealed));
  return (await store.clients.reencryptSecrets(reseal)) + (await store.channels.reencrypt(reseal));
}

function refuseEnvKeys(env: Record<string, string | undefined>): void {
  if (env.SENTINEL_SERVER_KEY || env.SENTINEL_PREVIOUS_SERVER_KEY)
    throw fail(
      "the server key comes from SENTINEL_SERVER_KEY: rotate it where it is kept (see docs/operations.md, " +
        '"Rotating the server key"): with the server stopped, set SENTINEL_PREVIOUS_SERVER_KEY to the old key and ' +
        "SENTINEL_SERVER_KEY to a new one (openssl rand -base64 32), run `sentinel server-key reseal` with both set, " +
        "start the server, then remove SENTINEL_PREVIOUS_SERVER_KEY",
    );
}

export interface RotateOutcome {
  previousKeyId: string;
  currentKeyId: string;
  resealed: number;
}

export async function rotateServerKey(
  o: DataLocation,
  env: Record<string, string | undefined> = Bun.env,
): Promise<RotateOutcome> {
  const d = await deps();
  refuseEnvKeys(env);
  const keyFile = keyFileOf(o, d);
  const previousFile = `${keyFile}.previous`;
  if (!existsSync(keyFile)) throw fail(`${keyFile} does not exist (is --data-dir right?)`);
  const held = d.acquireDataLock(o.dataDir);
  try {
    const store = await d.openStore(o);
    try {
      const old = d.parseServerKey(readFileSync(keyFile, "utf8"), keyFile);
      const oldId = d.keyId(old);
      if (store.engine === "postgres") {
        // every replica loads the key at start: they must all be stopped, and hold this key
        const leader = await store.leadership.current();
        if (leader)
          throw fail(`replica ${leader.replica} is running on the database; stop every server first`);
        const mismatch = await d.keyMismatch(store.meta, oldId);
        if (mismatch) throw fail(mismatch);
      }
      if (existsSync(previousFile)) {
        const prevId = d.keyId(d.parseServerKey(readFileSync(previousFile, "utf8"), previousFile));
        const still = (await sealedByKey(store))[prevId] ?? 0;
        if (still > 0)
          throw fail(
            `${still} secret(s) are still sealed with the previous key ${prevId}: run \`sentinel server-key rotate\` ` +
              "only after the last rotation finished (run `sentinel server-key reseal` first)",
          );
      }
      const fresh = randomBytes(32);
      writeKeyFile(previousFile, old);
      writeKeyFile(keyFile, fresh);
      const keyring = d.createKeyring([fresh, old]);
      const resealed = await resealAll(store, keyring);
      if (store.engine === "postgres") await store.meta.set(d.KEY_FINGERPRINT_META, keyring.currentId);
      await auditCli(store, "server_key.rotate", keyring.currentId, { previous_key_id: oldId, resealed });
      return { previousKeyId: oldId, currentKeyId: keyring.currentId, resealed };
    } finally {
      await store.close();
    }
  } finally {
    held.release();
  }
}

/** Re-seals every secret with the current key (finishes an interrupted rotation). */
export async function resealSecrets(
  o: DataLocation,
  env: Record<string, string | undefined> = Bun.env,
): Promise<number> {
  const d = await deps();
  const held = d.acquireDataLock(o.dataDir);
  try {
    const keyring = d.loadKeyring(o.dataDir, env, o.serverKeyFile);
    const store = await d.openStore(o);
    try {
      const resealed = await resealAll(store, keyring);
      if (store.engine === "postgres") await store.meta.set(d.KEY_FINGERPRINT_META, keyring.currentId);
      await auditCli(store, "server_key.reseal", keyring.currentId, { resealed });
      return resealed;
    } finally {
      await store.close();
    }
  } finally {
    held.release();
  }
}

export async function dropPreviousKey(
  o: DataLocation,
  env: Record<string, string | undefined> = Bun.env,
): Promise<string> {
  const d = await deps();
  refuseEnvKeys(env);
  const keyFile = keyFileOf(o, d);
  const previousFile = `${keyFile}.previous`;
  if (!existsSync(previousFile)) throw fail(`there is no ${previousFile} to drop`);
  const prevId = d.keyId(d.parseServerKey(readFileSync(previousFile, "utf8"), previousFile));
  const store = await d.openStore(o);
  try {
    const still = (await sealedByKey(store))[prevId] ?? 0;
    if (still > 0)
      throw fail(
        `${still} secret(s) are still sealed with ${prevId}; run \`sentinel server-key reseal\` first`,
      );
    rmSync(previousFile);
    await auditCli(store, "server_key.drop_previous", prevId);
  } finally {
    await store.close();
  }
  return prevId;
}

const withDataDir = (rawArgs: string[]) => {
  const { options, positionals } = loadOptions(serverKeySpecs, rawArgs, "server");
  if (positionals.length) throw new OptionError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return options;
};

const status = defineCommand({
  meta: {
    name: "status",
    description: "Show the current key id, whether a previous key is loaded, and what each seals",
  },
  args: cittyArgs(serverKeySpecs),
  async run({ rawArgs }) {
    const o = withDataDir(rawArgs);
    const d = await deps();
    const keyring = d.loadKeyring(o.dataDir, Bun.env, o.serverKeyFile);
    const keyFile = keyFileOf(o, d);
    const store = await d.openStore(o);
    const sealed = await sealedByKey(store);
    await store.close();
    const previous = existsSync(`${keyFile}.previous`)
      ? d.keyId(d.parseServerKey(readFileSync(`${keyFile}.previous`, "utf8"), `${keyFile}.previous`))
      : null;
    const out = {
      current: keyring.currentId,
      source: Bun.env.SENTINEL_SERVER_KEY ? "SENTINEL_SERVER_KEY" : keyFile,
      previous,
      sealed,
    };
    if (o.json) return console.log(JSON.stringify(out));
    console.log(
      `current key ${out.current} (${out.source})${previous ? `; previous key ${previous} (${keyFile}.previous)` : ""}`,
    );
    for (const [id, n] of Object.entries(sealed))
      console.log(`  ${n} secret(s) sealed with ${id}${id === out.current ? " (current)" : ""}`);
  },
});

const rotate = defineCommand({
  meta: {
    name: "rotate",
    description:
      "New server key; the old one becomes server.key.previous; every client secret and channel URL is re-sealed (server stopped)",
  },
  args: cittyArgs(serverKeySpecs),
  async run({ rawArgs }) {
    const o = withDataDir(rawArgs);
    const r = await rotateServerKey(o);
    if (o.json) return console.log(JSON.stringify(r));
    console.log(
      `Rotated the server key: ${r.previousKeyId} -> ${r.currentKeyId}; re-sealed ${r.resealed} client(s) and alert channel(s).`,
    );
    console.log(
      "Clients keep their tokens. Start the server, then remove the old key with: sentinel server-key drop-previous",
    );
    if (o.database)
      console.log(
        "PostgreSQL: copy the new server.key (and server.key.previous) to every replica before starting it; " +
          "a replica with the old key is refused.",
      );
  },
});

const reseal = defineCommand({
  meta: {
    name: "reseal",
    description: "Re-seal every client secret with the current key (finishes an interrupted rotation)",
  },
  args: cittyArgs(serverKeySpecs),
  async run({ rawArgs }) {
    const o = withDataDir(rawArgs);
    console.log(`Re-sealed ${await resealSecrets(o)} client(s) and alert channel(s) with the current key.`);
  },
});

const dropPrevious = defineCommand({
  meta: { name: "drop-previous", description: "Delete server.key.previous once no secret is sealed with it" },
  args: cittyArgs(serverKeySpecs),
  async run({ rawArgs }) {
    const o = withDataDir(rawArgs);
    console.log(`Deleted the previous server key ${await dropPreviousKey(o)}.`);
  },
});

export default defineCommand({
  meta: {
    name: "server-key",
    description: "The key that seals client secrets: status, rotate, reseal, drop-previous",
  },
  subCommands: { status, rotate, reseal, "drop-previous": dropPrevious },
});
