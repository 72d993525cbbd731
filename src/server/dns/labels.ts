/**
 * DNS oracle labels: the one-label names a client resolves, minted by the server for that
 * client and signed with a key derived from the server key. The DNS listener tells a real
 * label from noise without reading the database (nothing is written for a label the server
 * did not mint, or one that expired), and a report can only claim labels minted for its own
 * client.
 *
 * A label is 25 bytes as 50 lower-case hex characters (DNS names are case-insensitive and
 * resolvers may randomise case; hex survives both):
 *
 *   client tag  5 bytes  HMAC(key, "client\0" + client id): whom it was minted for
 *   nonce       8 bytes  random: nobody can guess a label before its client uses it
 *   expiry      4 bytes  unix seconds, big-endian
 *   mac         8 bytes  HMAC(key, the 17 bytes above)
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const TAG = 5;
const NONCE = 8;
const EXPIRY = 4;
const MAC = 8;
const SIGNED = TAG + NONCE + EXPIRY;
export const LABEL_LENGTH = (SIGNED + MAC) * 2;
const LABEL = new RegExp(`^[0-9a-f]{${LABEL_LENGTH}}$`);

/** A label that checked out: when it expires (ms) and which key signed it. */
export interface CheckedLabel {
  expiresAt: number;
  key: number;
}

export class OracleLabels {
  /** @param keys signing keys, the current one first (Keyring.derive) */
  constructor(private readonly keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error("no key to sign DNS oracle labels with");
  }

  /** A fresh label for `clientId`, valid for `lifetimeMs` from `now`. */
  mint(clientId: string, now: number, lifetimeMs: number): string {
    const key = this.keys[0] as Buffer;
    const signed = Buffer.alloc(SIGNED);
    clientTag(key, clientId).copy(signed, 0);
    randomBytes(NONCE).copy(signed, TAG);
    signed.writeUInt32BE(Math.min(0xffffffff, Math.ceil((now + lifetimeMs) / 1000)), TAG + NONCE);
    return Buffer.concat([signed, mac(key, signed)]).toString("hex");
  }

  /** The label's expiry and key when it is well-formed, signed by this server and not expired; else null. */
  check(label: string, now: number): CheckedLabel | null {
    const text = label.toLowerCase();
    if (!LABEL.test(text)) return null;
    const raw = Buffer.from(text, "hex");
    const signed = raw.subarray(0, SIGNED);
    const expiresAt = signed.readUInt32BE(TAG + NONCE) * 1000;
    if (expiresAt < now) return null;
    const given = raw.subarray(SIGNED);
    const key = this.keys.findIndex((k) => timingSafeEqual(mac(k, signed), given));
    return key === -1 ? null : { expiresAt, key };
  }

  /** The label's expiry when it checks and was minted for `clientId`; else null. */
  checkFor(label: string, clientId: string, now: number): CheckedLabel | null {
    const checked = this.check(label, now);
    if (checked === null) return null;
    const tag = Buffer.from(label.toLowerCase().slice(0, TAG * 2), "hex");
    return timingSafeEqual(tag, clientTag(this.keys[checked.key] as Buffer, clientId)) ? checked : null;
  }
}

const clientTag = (key: Buffer, clientId: string) =>
  createHmac("sha256", key).update(`client\u0000${clientId}`).digest().subarray(0, TAG);

const mac = (key: Buffer, signed: Buffer) =>
  createHmac("sha256", key).update(signed).digest().subarray(0, MAC);
