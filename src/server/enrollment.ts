/** Creating, rotating and finding clients: shared by the CLI, the API and the dashboard. */
import { encodeToken } from "../protocol/token.ts";
import { type Keyring, newId, newSecret } from "./auth/keyring.ts";
import { ApiError } from "./errors.ts";
import type { ClientRecord, Repositories } from "./store/index.ts";

/** The store, or a transaction: enrollment only needs the clients. */
type Clients = Pick<Repositories, "clients">;

export interface Enrollment {
  id: string;
  name: string;
  secret: string;
  token: string;
  command: string;
}

/** Any printable text up to 64 characters: names are escaped wherever they are shown. */
export function checkClientName(name: string): string | undefined {
  if (name.trim() !== name || name.length === 0)
    return "a client name must not be empty or start/end with spaces";
  if (name.length > 64) return "a client name must be at most 64 characters";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return "a client name must not contain control characters";
  return undefined;
}

export async function enrollClient(
  store: Clients,
  keyring: Keyring,
  name: string,
  serverUrl: string,
  now: number,
): Promise<Enrollment> {
  const problem = checkClientName(name);
  if (problem) throw new ApiError(400, "validation_failed", problem, [{ path: "/name", message: problem }]);
  if (await store.clients.getByName(name))
    throw new ApiError(409, "conflict", "a client with this name already exists");
  const id = newId("c_");
  const secret = newSecret();
  await store.clients.create({ id, name, createdAt: now, secretEnc: keyring.encrypt(secret) });
  return enrollmentFor(id, name, secret, serverUrl);
}

/**
 * The command passes the token in the environment, not as an argument: argv is visible to every
 * user of the machine (ps, /proc), the environment only to its owner. The token carries the
 * server URL, so no --server is needed.
 */
export function enrollmentFor(id: string, name: string, secret: string, serverUrl: string): Enrollment {
  const token = encodeToken({ server: serverUrl, clientId: id, secret });
  return { id, name, secret, token, command: `SENTINEL_TOKEN=${token} sentinel client` };
}

/** Where the server keeps its effective --public-url, so `sentinel clients add` puts it in tokens. */
const PUBLIC_URL_META = "public_url";
/** "default" when the URL was not configured but guessed from the host name and port. */
const PUBLIC_URL_SOURCE_META = "public_url_source";

export interface StoredPublicUrl {
  url: string;
  guessed: boolean;
}

export async function rememberPublicUrl(
  store: Pick<Repositories, "meta">,
  url: string,
  guessed: boolean,
): Promise<void> {
  await store.meta.set(PUBLIC_URL_META, url);
  await store.meta.set(PUBLIC_URL_SOURCE_META, guessed ? "default" : "option");
}

/** The URL the server last started with; null when it never ran with this version. */
export async function storedPublicUrl(store: Pick<Repositories, "meta">): Promise<StoredPublicUrl | null> {
  const url = await store.meta.get(PUBLIC_URL_META);
  return url ? { url, guessed: (await store.meta.get(PUBLIC_URL_SOURCE_META)) === "default" } : null;
}

/** Issues a new secret; the old one keeps working for `graceMs` so clients can be updated. */
export async function rotateClientSecret(
  store: Clients,
  keyring: Keyring,
  client: ClientRecord,
  serverUrl: string,
  now: number,
  graceMs: number,
) {
  const secret = newSecret();
  await store.clients.rotateSecret(client.id, keyring.encrypt(secret), now + graceMs);
  return enrollmentFor(client.id, client.name, secret, serverUrl);
}

export async function findClient(store: Clients, idOrName: string): Promise<ClientRecord | null> {
  return (await store.clients.get(idOrName)) ?? (await store.clients.getByName(idOrName));
}
