/**
 * Replicas on one PostgreSQL database must share the server key: a client secret sealed by one
 * replica has to open on every other. The database remembers the id (a hash prefix, not the
 * key) of the key its secrets are sealed with; a replica whose key differs refuses to start,
 * and its readiness turns false if the key changes under it, instead of failing every report.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensurePrivateDir } from "../private-files.ts";
import type { MetaRepository } from "../store/index.ts";
import { type Keyring, loadKeyring, SERVER_KEY_FILE } from "./keyring.ts";

export const KEY_FINGERPRINT_META = "server_key_id";

export class KeyMismatchError extends Error {
  readonly exitCode = 1;
}

export const keyMismatchMessage = (mine: string, theirs: string) =>
  `this server's key (id ${mine}) is not the key the database's client secrets are sealed with (id ${theirs}); ` +
  "every replica needs the same server key: copy server.key from a running replica (or use --server-key-file)";

/** The key id the database expects, or null before the first replica recorded one. */
export const expectedKeyId = (meta: MetaRepository) => meta.get(KEY_FINGERPRINT_META);

/**
 * Records this key's id when the database has none yet, else requires it to match. Throws
 * KeyMismatchError when it does not.
 */
export async function claimKeyFingerprint(meta: MetaRepository, keyId: string): Promise<void> {
  const recorded = await meta.get(KEY_FINGERPRINT_META);
  if (recorded === null) {
    // two replicas started at once with different keys: the later write wins, and the other
    // one finds out at its next readiness check (keyMismatch below)
    await meta.set(KEY_FINGERPRINT_META, keyId);
    return;
  }
  if (recorded !== keyId) throw new KeyMismatchError(keyMismatchMessage(keyId, recorded));
}

/** For readiness: why this replica's key no longer matches the database's, or null. */
export async function keyMismatch(meta: MetaRepository, keyId: string): Promise<string | null> {
  const recorded = await meta.get(KEY_FINGERPRINT_META);
  return recorded !== null && recorded !== keyId ? keyMismatchMessage(keyId, recorded) : null;
}

/**
 * The server key of a replica (or a command) on a shared database: never a fresh one when the
 * database already has secrets sealed with another; recorded when it is the first.
 */
export async function loadSharedKeyring(
  meta: MetaRepository,
  dataDir: string,
  env: Record<string, string | undefined>,
  keyFile?: string,
): Promise<Keyring> {
  const expected = await expectedKeyId(meta);
  const present = !!env.SENTINEL_SERVER_KEY || existsSync(keyFile ?? join(dataDir, SERVER_KEY_FILE));
  if (expected !== null && !present)
    throw new KeyMismatchError(
      `there is no server key here, and the database's client secrets are sealed with key id ${expected}; ` +
        "every replica needs the same server key: copy server.key from a running replica (or use --server-key-file)",
    );
  // a first key is written into the data dir, which on PostgreSQL holds nothing else yet
  if (!present && !keyFile) ensurePrivateDir(dataDir);
  const keyring = loadKeyring(dataDir, env, keyFile);
  await claimKeyFingerprint(meta, keyring.currentId);
  return keyring;
}
