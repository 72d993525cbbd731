/**
 * Client secrets are stored encrypted (AES-256-GCM) with a server key that lives outside the
 * database: a 0600 file in the data dir, or SENTINEL_SERVER_KEY. A stolen database file alone
 * therefore cannot forge reports. Several keys can be loaded so a key rotation can re-encrypt.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePrivate } from "../private-files.ts";

export const SERVER_KEY_FILE = "server.key";

export class KeyError extends Error {
  readonly code = "server_key";
}

export interface Keyring {
  /** id of the key new secrets are encrypted with */
  readonly currentId: string;
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
  /** true when `sealed` was encrypted with the current key */
  isCurrent(sealed: string): boolean;
  /**
   * Keys for one purpose (e.g. signing DNS oracle labels), derived from every loaded server
   * key, the current one first: what the current key signs, replicas sharing the key verify,
   * and what the previous key signed still verifies during a rotation.
   */
  derive(purpose: string): Buffer[];
}

export const keyId = (key: Buffer) => createHash("sha256").update(key).digest("hex").slice(0, 8);

/** Accepts base64/base64url of exactly 32 bytes. Never echoes the value. */
export function parseServerKey(text: string, origin: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32)
    throw new KeyError(
      `${origin}: the server key must be 32 bytes, base64-encoded (generate one with: openssl rand -base64 32)`,
    );
  return key;
}

export function createKeyring(keys: Buffer[]): Keyring {
  const [current] = keys;
  if (!current) throw new KeyError("no server key");
  const byId = new Map(keys.map((k) => [keyId(k), k]));
  const currentId = keyId(current);
  return {
    currentId,
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current, iv);
      const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return `v1:${currentId}:${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString("base64url")}`;
    },
    decrypt(sealed) {
      const [version, id, data] = sealed.split(":");
      const key = id ? byId.get(id) : undefined;
      if (version !== "v1" || !key || !data)
        throw new KeyError(`a client secret is sealed with server key ${id ?? "?"}, which is not loaded`);
      const raw = Buffer.from(data, "base64url");
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
        "utf8",
      );
    },
    isCurrent(sealed) {
      return sealed.split(":")[1] === currentId;
    },
    derive(purpose) {
      return keys.map((k) => createHmac("sha256", k).update(`vpn-sentinel derived key: ${purpose}`).digest());
    },
  };
}

/**
 * Loads the server key: SENTINEL_SERVER_KEY if set, else `keyFile` (--server-key-file), which
 * must exist, else <dataDir>/server.key, created (0600) on first use.
 * SENTINEL_PREVIOUS_SERVER_KEY or <key file>.previous keep old secrets readable during a key
 * rotation.
 */
export function loadKeyring(
  dataDir: string,
  env: Record<string, string | undefined> = Bun.env,
  keyFile?: string,
): Keyring {
  const keys: Buffer[] = [];
  const file = keyFile ?? join(dataDir, SERVER_KEY_FILE);
  if (env.SENTINEL_SERVER_KEY) keys.push(parseServerKey(env.SENTINEL_SERVER_KEY, "SENTINEL_SERVER_KEY"));
  else if (existsSync(file)) {
    makePrivate(file);
    keys.push(parseServerKey(readFileSync(file, "utf8"), file));
  } else if (keyFile) throw new KeyError(`--server-key-file: ${keyFile} does not exist`);
  else {
    const key = randomBytes(32);
    writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
    keys.push(key);
  }
  if (env.SENTINEL_PREVIOUS_SERVER_KEY)
    keys.push(parseServerKey(env.SENTINEL_PREVIOUS_SERVER_KEY, "SENTINEL_PREVIOUS_SERVER_KEY"));
  const previousFile = `${file}.previous`;
  if (existsSync(previousFile)) {
    makePrivate(previousFile);
    keys.push(parseServerKey(readFileSync(previousFile, "utf8"), previousFile));
  }
  return createKeyring(keys);
}

/** Random identifiers and secrets. */
export const newSecret = () => randomBytes(32).toString("base64url");
export const newId = (prefix: string) =>
  `${prefix}${randomBytes(9).toString("base64url").replace(/[-_]/g, "x").toLowerCase()}`;
export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");
