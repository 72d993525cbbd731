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

export function enrollmentFor(id: string, name: string, secret: string, serverUrl: string): Enrollment {
  const token = encodeToken({ server: serverUrl, clientId: id, secret });
  return { id, name, secret, token, command: `sentinel client --server ${serverUrl} --token ${token}` };
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
