/**
 * Export and import of what a person configured: clients (with their policies and sealed
 * secrets), API tokens (hashes only), dashboard users (password hashes) and the alert channels
 * added in the dashboard (URLs sealed). History, events and the outbox stay behind: they are the
 * server's own record, kept by backups instead. Channels given as options live in the
 * configuration, not in the database, so they are not part of an export.
 *
 * Nothing travels in clear. Client secrets and channel URLs stay sealed with the exporting server's key: the
 * importing server must hold that key, as its current key or as a previous one (server.key.previous,
 * SENTINEL_PREVIOUS_SERVER_KEY, or `sentinel import --source-key-file`), and re-seals them with
 * its own current key. Elysia-free: the API and the CLI share it.
 */
import type { Keyring } from "../../auth/keyring.ts";
import { readSettings } from "../../monitor/settings.ts";
import type { ApiRole, ClientOrigin, Store } from "../../store/index.ts";

export const EXPORT_FORMAT = "vpn-sentinel-export";
export const EXPORT_VERSION = 1;

export interface ExportedClient {
  id: string;
  name: string;
  created_at: number;
  policy: Record<string, unknown>;
  /** "v1:<server key id>:<AES-GCM sealed secret>" */
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_until: number | null;
  /** "legacy" for a client the keepalive endpoint created; absent (older exports) = "enrolled" */
  origin?: ClientOrigin;
}

export interface ExportedToken {
  id: string;
  name: string;
  role: ApiRole;
  token_sha256: string;
  created_at: number;
  revoked_at: number | null;
}

export interface ExportedUser {
  id: string;
  name: string;
  role: ApiRole;
  password_hash: string;
  created_at: number;
}

/** An alert channel added in the dashboard. */
export interface ExportedChannel {
  id: string;
  /** "v1:<server key id>:<AES-GCM sealed channel URL>" */
  url_sealed: string;
  /** the URL with every secret masked */
  url: string;
  created_at: number;
  updated_at: number;
}

export interface ExportDocument {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  exported_at: string;
  /** the key the client secrets and channel URLs are sealed with; an importing server needs it */
  server_key_id: string;
  clients: ExportedClient[];
  api_tokens: ExportedToken[];
  users: ExportedUser[];
  /** absent in exports from before dashboard channels */
  notify_channels: ExportedChannel[];
}

export interface ImportResult {
  created: { clients: number; api_tokens: number; users: number; notify_channels: number };
  /** names (channels: masked URLs) that already existed here and were left as they are */
  skipped: { clients: string[]; api_tokens: string[]; users: string[]; notify_channels: string[] };
  /** secrets and channel URLs sealed with another server key that were re-sealed with ours */
  resealed: number;
}

export class ImportError extends Error {
  constructor(
    readonly code: "invalid_export" | "server_key_mismatch",
    message: string,
    /** JSON pointer to the offending field, when there is one */
    readonly path?: string,
  ) {
    super(message);
  }
}

export async function exportData(store: Store, keyring: Keyring, now: number): Promise<ExportDocument> {
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exported_at: new Date(now).toISOString(),
    server_key_id: keyring.currentId,
    clients: (await store.clients.list()).map((c) => ({
      id: c.id,
      name: c.name,
      created_at: c.createdAt,
      policy: { ...c.settings },
      secret_sealed: c.secretEnc,
      previous_secret_sealed: c.prevSecretEnc,
      previous_secret_until: c.prevSecretUntil,
      origin: c.origin,
    })),
    api_tokens: (await store.tokens.list()).map((t) => ({
      id: t.id,
      name: t.name,
      role: t.role,
      token_sha256: t.tokenHash,
      created_at: t.createdAt,
      revoked_at: t.revokedAt,
    })),
    users: (await store.auth.listUsers()).map((u) => ({
      id: u.id,
      name: u.name,
      role: u.role,
      password_hash: u.passwordHash,
      created_at: u.createdAt,
    })),
    notify_channels: (await store.channels.list()).map((c) => ({
      id: c.id,
      url_sealed: c.urlSealed,
      url: c.display,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    })),
  };
}

type Shape = Record<
  string,
  "string" | "number" | "object" | "string?" | "number?" | "role" | "origin" | "argon2"
>;

const CLIENT_SHAPE: Shape = {
  id: "string",
  name: "string",
  created_at: "number",
  policy: "object",
  secret_sealed: "string",
  previous_secret_sealed: "string?",
  previous_secret_until: "number?",
  origin: "origin",
};
const TOKEN_SHAPE: Shape = {
  id: "string",
  name: "string",
  role: "role",
  token_sha256: "string",
  created_at: "number",
  revoked_at: "number?",
};
const CHANNEL_SHAPE: Shape = {
  id: "string",
  url_sealed: "string",
  url: "string",
  created_at: "number",
  updated_at: "number",
};
const USER_SHAPE: Shape = {
  id: "string",
  name: "string",
  role: "role",
  password_hash: "argon2",
  created_at: "number",
};

/**
 * An argon2 hash in the PHC string format Bun.password writes and verifies, with bounded cost:
 * a hash Bun cannot read would break sign-in with a 500, and an imported hash with a huge memory
 * or time cost would make every sign-in attempt burn seconds of CPU. Ours: m=65536, t=2, p=1.
 */
const ARGON2_HASH =
  /^\$argon2(?:id|i|d)\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{11,86})\$([A-Za-z0-9+/]{6,86})$/;
export function isImportablePasswordHash(hash: string): boolean {
  const m = ARGON2_HASH.exec(hash);
  if (!m) return false;
  const [memoryKiB, time, lanes] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const base64 = (s: string) => s.length % 4 !== 1; // unpadded base64 is never 1 mod 4 long
  return (
    memoryKiB >= 1024 &&
    memoryKiB <= 262_144 &&
    time >= 1 &&
    time <= 10 &&
    lanes >= 1 &&
    lanes <= 16 &&
    base64(m[4] as string) &&
    base64(m[5] as string)
  );
}

/** The first problem of a list of items, with the JSON pointer of the field. */
function checkItems(list: unknown, shape: Shape, where: string): { message: string; path: string } | null {
  if (!Array.isArray(list)) return { message: `${where} must be an array`, path: `/${where}` };
  for (const [i, item] of list.entries()) {
    if (typeof item !== "object" || item === null)
      return { message: `${where}[${i}] must be an object`, path: `/${where}/${i}` };
    for (const [key, kind] of Object.entries(shape)) {
      const v = (item as Record<string, unknown>)[key];
      const ok =
        kind === "role"
          ? v === "admin" || v === "viewer"
          : kind === "origin"
            ? v === undefined || v === "enrolled" || v === "legacy"
            : kind === "argon2"
              ? typeof v === "string" && isImportablePasswordHash(v)
              : kind.endsWith("?")
                ? v === null || v === undefined || typeof v === kind.slice(0, -1)
                : kind === "object"
                  ? typeof v === "object" && v !== null && !Array.isArray(v)
                  : typeof v === kind && (kind !== "string" || (v as string).length > 0);
      if (!ok)
        return {
          message:
            kind === "argon2"
              ? `${where}[${i}].${key} is not an argon2 hash this sentinel can check (PHC format, m ≤ 262144, t ≤ 10, p ≤ 16)`
              : `${where}[${i}].${key} is missing or has the wrong type`,
          path: `/${where}/${i}/${key}`,
        };
    }
  }
  return null;
}

/** Checks the document's shape; never echoes values (they may be hashes or sealed secrets). */
export function parseExport(input: unknown): ExportDocument {
  const doc = input as Partial<ExportDocument> | null;
  if (typeof doc !== "object" || doc === null || doc.format !== EXPORT_FORMAT)
    throw new ImportError(
      "invalid_export",
      `not a sentinel export (format must be "${EXPORT_FORMAT}")`,
      "/format",
    );
  if (doc.version !== EXPORT_VERSION)
    throw new ImportError(
      "invalid_export",
      `unsupported export version (this sentinel reads ${EXPORT_VERSION})`,
      "/version",
    );
  const problem =
    checkItems(doc.clients, CLIENT_SHAPE, "clients") ??
    checkItems(doc.api_tokens ?? [], TOKEN_SHAPE, "api_tokens") ??
    checkItems(doc.users ?? [], USER_SHAPE, "users") ??
    checkItems(doc.notify_channels ?? [], CHANNEL_SHAPE, "notify_channels");
  if (problem) throw new ImportError("invalid_export", problem.message, problem.path);
  return {
    ...doc,
    api_tokens: doc.api_tokens ?? [],
    users: doc.users ?? [],
    notify_channels: doc.notify_channels ?? [],
  } as ExportDocument;
}

/** Who asks for an import or export, for the audit log. */
export interface AuditedBy {
  actor: string;
  sourceIp: string | null;
}

/** What an export held, for the audit log (counts, never hashes or sealed secrets). */
export async function auditExport(
  store: Store,
  doc: ExportDocument,
  by: AuditedBy,
  now: number,
): Promise<void> {
  await store.auth.audit({
    at: now,
    ...by,
    action: "export",
    target: null,
    detail: {
      clients: doc.clients.length,
      api_tokens: doc.api_tokens.length,
      users: doc.users.length,
      notify_channels: doc.notify_channels.length,
    },
  });
}

/**
 * Adds what does not exist yet (matched by name, and by id for clients); existing entries are
 * left alone and reported. Secrets are re-sealed before anything is written, so a missing key
 * refuses the whole import instead of leaving half of it behind. The audit entry is written in
 * the same transaction.
 */
export async function importData(
  store: Store,
  keyring: Keyring,
  doc: ExportDocument,
  by: AuditedBy,
): Promise<ImportResult> {
  let resealed = 0;
  const reseal = (sealed: string): string => {
    if (keyring.isCurrent(sealed)) return sealed;
    let plain: string;
    try {
      plain = keyring.decrypt(sealed);
    } catch {
      throw new ImportError(
        "server_key_mismatch",
        `secrets are sealed with server key ${sealed.split(":")[1] ?? "?"}, which this server does not hold; ` +
          "copy that server's key to server.key.previous (or pass --source-key-file) and import again",
      );
    }
    resealed++;
    return keyring.encrypt(plain);
  };
  // Only clients that will be created need their secrets opened: a re-import of known clients
  // must not fail on a key this server no longer holds.
  const fresh: ExportDocument["clients"] = [];
  for (const c of doc.clients)
    if (!(await store.clients.getByName(c.name)) && !(await store.clients.get(c.id))) fresh.push(c);
  const clients = fresh.map((c) => ({
    ...c,
    secret_sealed: reseal(c.secret_sealed),
    previous_secret_sealed: c.previous_secret_sealed ? reseal(c.previous_secret_sealed) : null,
  }));
  // a channel is known here by its id or by the same masked URL (the same service and filters)
  const known = await store.channels.list();
  const freshChannels = doc.notify_channels.filter(
    (c) => !known.some((k) => k.id === c.id || k.display === c.url),
  );
  const channels = freshChannels.map((c) => ({ ...c, url_sealed: reseal(c.url_sealed) }));

  const result: ImportResult = {
    created: { clients: 0, api_tokens: 0, users: 0, notify_channels: 0 },
    skipped: { clients: [], api_tokens: [], users: [], notify_channels: [] },
    resealed,
  };
  await store.transaction(async (tx) => {
    for (const c of doc.clients) if (!fresh.includes(c)) result.skipped.clients.push(c.name);
    for (const c of clients) {
      // A pending rotation survives: the previous secret goes in first, then rotates to the current one.
      const pending = c.previous_secret_sealed !== null && c.previous_secret_until !== null;
      await tx.clients.create({
        id: c.id,
        name: c.name,
        createdAt: c.created_at,
        secretEnc: pending ? (c.previous_secret_sealed as string) : c.secret_sealed,
        origin: c.origin === "legacy" ? "legacy" : "enrolled",
      });
      if (pending) await tx.clients.rotateSecret(c.id, c.secret_sealed, c.previous_secret_until as number);
      if (Object.keys(c.policy).length) await tx.clients.updateSettings(c.id, readSettings(c.policy));
      result.created.clients++;
    }
    const tokens = await tx.tokens.list();
    for (const t of doc.api_tokens) {
      if (
        tokens.some(
          (x) =>
            x.name.toLowerCase() === t.name.toLowerCase() || x.id === t.id || x.tokenHash === t.token_sha256,
        )
      ) {
        result.skipped.api_tokens.push(t.name);
        continue;
      }
      await tx.tokens.create({
        id: t.id,
        name: t.name,
        role: t.role,
        tokenHash: t.token_sha256,
        createdAt: t.created_at,
        lastUsedAt: null,
        revokedAt: null,
      });
      if (t.revoked_at !== null) await tx.tokens.revoke(t.id, t.revoked_at);
      result.created.api_tokens++;
    }
    for (const u of doc.users) {
      if ((await tx.auth.getUserByName(u.name)) || (await tx.auth.getUser(u.id))) {
        result.skipped.users.push(u.name);
        continue;
      }
      await tx.auth.createUser({
        id: u.id,
        name: u.name,
        role: u.role,
        passwordHash: u.password_hash,
        createdAt: u.created_at,
      });
      result.created.users++;
    }
    for (const c of doc.notify_channels)
      if (!freshChannels.includes(c)) result.skipped.notify_channels.push(c.url);
    for (const c of channels) {
      await tx.channels.create({
        id: c.id,
        urlSealed: c.url_sealed,
        display: c.url,
        createdAt: c.created_at,
        updatedAt: c.updated_at,
      });
      result.created.notify_channels++;
    }
    await tx.auth.audit({ at: Date.now(), ...by, action: "import", target: null, detail: { ...result } });
  });
  return result;
}
