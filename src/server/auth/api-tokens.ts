/**
 * API bearer tokens: `sentinel tokens add NAME --role admin|viewer` prints one once; only its
 * SHA-256 is stored. Elysia-free service plus the check used by the API plugins.
 */
import { randomBytes } from "node:crypto";
import { ApiError } from "../errors.ts";
import type { ApiRole, ApiTokenRecord, Repositories, Store } from "../store/index.ts";
import { hashToken, newId } from "./keyring.ts";

export const API_TOKEN_PREFIX = "sst_";

export async function createApiToken(
  store: Pick<Repositories, "tokens">,
  name: string,
  role: ApiRole,
  now: number,
): Promise<{ record: ApiTokenRecord; token: string }> {
  const token = API_TOKEN_PREFIX + randomBytes(24).toString("base64url");
  const record: ApiTokenRecord = {
    id: newId("t_"),
    name,
    role,
    tokenHash: hashToken(token),
    createdAt: now,
    lastUsedAt: null,
    revokedAt: null,
  };
  await store.tokens.create(record);
  return { record, token };
}

export interface Principal {
  kind: "api_token";
  id: string;
  name: string;
  role: ApiRole;
}

/** How an API token appears in the audit log. */
export const auditActor = (p: Principal) => `token:${p.name}`;

const missing = () =>
  new ApiError(
    401,
    "unauthorized",
    "send an API token as Authorization: Bearer <token> (create one with `sentinel tokens add`)",
    undefined,
    {
      "WWW-Authenticate": 'Bearer realm="sentinel"',
    },
  );

/** Resolves the Authorization header to a principal, or throws 401/403. */
export async function authenticateBearer(
  store: Store,
  authorization: string | null,
  need: ApiRole,
  now: number,
): Promise<Principal> {
  const m = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  if (!m?.[1]) throw missing();
  const record = await store.tokens.findActiveByHash(hashToken(m[1]));
  if (!record) throw missing();
  if (need === "admin" && record.role !== "admin")
    throw new ApiError(403, "forbidden", "this action needs an admin token");
  // Touch at most once a minute: a read-heavy API must not turn every GET into a write.
  if (record.lastUsedAt === null || now - record.lastUsedAt > 60_000)
    await store.tokens.touch(record.id, now);
  return { kind: "api_token", id: record.id, name: record.name, role: record.role };
}
