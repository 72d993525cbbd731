/**
 * Dashboard users: creation with argon2id password hashes, login with rate limits and lockout,
 * and the first-run setup token. Elysia-free, shared by the dashboard and `sentinel users`.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../../logger.ts";
import type { ApiRole, Store, UserRecord } from "../store/index.ts";
import { tokensEqual } from "./csrf.ts";
import { hashToken, newId } from "./keyring.ts";
import { RateLimiter } from "./rate-limit.ts";

export const MIN_PASSWORD_LENGTH = 10;
const MAX_PASSWORD_LENGTH = 1024;

/** A refused user operation; `message` is safe to show (never echoes a password). */
export class UserError extends Error {
  readonly code = "user_invalid";
  readonly exitCode = 2;
}

export function checkUserName(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name))
    return "a user name is 1 to 64 letters, digits, dots, dashes, underscores or @, starting with a letter or digit";
  return undefined;
}

export function checkPassword(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `a password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH)
    return `a password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

export const isRole = (v: unknown): v is ApiRole => v === "admin" || v === "viewer";

export const hashPassword = (password: string) => Bun.password.hash(password, { algorithm: "argon2id" });

export async function createUser(
  store: Store,
  input: { name: string; role: ApiRole; password: string },
  now: number,
): Promise<UserRecord> {
  const problem = checkUserName(input.name) ?? checkPassword(input.password);
  if (problem) throw new UserError(problem);
  if (await store.auth.getUserByName(input.name))
    throw new UserError(`a user named ${JSON.stringify(input.name)} already exists`);
  const record = {
    id: newId("u_"),
    name: input.name,
    role: input.role,
    passwordHash: await hashPassword(input.password),
    createdAt: now,
  };
  await store.auth.createUser(record);
  return (await store.auth.getUser(record.id)) as UserRecord;
}

/** Sets a new password and ends the user's other sessions (a changed password must lock out a thief). */
export async function changePassword(
  store: Store,
  user: UserRecord,
  password: string,
  now: number,
  keepSessionHash?: string,
) {
  const problem = checkPassword(password);
  if (problem) throw new UserError(problem);
  await store.auth.setPassword(user.id, await hashPassword(password), now);
  await store.auth.deleteUserSessions(user.id, keepSessionHash);
}

/** Refuses to remove or demote the last admin: nobody could manage the server afterwards. */
export async function isLastAdmin(store: Store, user: UserRecord): Promise<boolean> {
  return (
    user.role === "admin" && (await store.auth.listUsers()).filter((u) => u.role === "admin").length <= 1
  );
}

export interface LoginPolicy {
  /** failed logins in a row before the account locks */
  lockAfter: number;
  lockMs: number;
  /** attempts per address: sustained rate and burst */
  perAddress: { ratePerS: number; burst: number };
  /** attempts per user name, whoever sends them */
  perUser: { ratePerS: number; burst: number };
}

export const DEFAULT_LOGIN_POLICY: LoginPolicy = {
  lockAfter: 5,
  lockMs: 15 * 60_000,
  perAddress: { ratePerS: 1 / 6, burst: 10 },
  perUser: { ratePerS: 1 / 12, burst: 5 },
};

export type LoginResult =
  | { ok: true; user: UserRecord }
  | { ok: false; reason: "invalid" | "locked" | "rate_limited"; retryAfterS?: number };

/**
 * Checks a login. Unknown names cost the same argon2 work as known ones, so timing does not
 * tell which names exist; the messages never say which half was wrong.
 */
export class LoginGuard {
  private readonly byAddress: RateLimiter;
  private readonly byUser: RateLimiter;
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
  ) {
    this.byAddress = new RateLimiter(policy.perAddress.ratePerS, policy.perAddress.burst, now);
    this.byUser = new RateLimiter(policy.perUser.ratePerS, policy.perUser.burst, now);
  }

  async attempt(name: string, password: string, address: string | null): Promise<LoginResult> {
    const waitAddress = this.byAddress.take(address ?? "unknown");
    if (waitAddress > 0) return { ok: false, reason: "rate_limited", retryAfterS: Math.ceil(waitAddress) };
    const waitUser = this.byUser.take(name.toLowerCase());
    if (waitUser > 0) return { ok: false, reason: "rate_limited", retryAfterS: Math.ceil(waitUser) };

    const t = this.now();
    const user = name.length <= 64 ? await this.store.auth.getUserByName(name) : null;
    if (!user) {
      this.dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
      await Bun.password.verify(password.slice(0, MAX_PASSWORD_LENGTH), await this.dummyHash);
      return { ok: false, reason: "invalid" };
    }
    if (user.lockedUntil !== null && user.lockedUntil > t)
      return { ok: false, reason: "locked", retryAfterS: Math.ceil((user.lockedUntil - t) / 1000) };
    const good =
      password.length <= MAX_PASSWORD_LENGTH && (await Bun.password.verify(password, user.passwordHash));
    if (!good) {
      const count = await this.store.auth.recordFailedLogin(
        user.id,
        this.policy.lockAfter,
        t + this.policy.lockMs,
      );
      if (count >= this.policy.lockAfter)
        return { ok: false, reason: "locked", retryAfterS: Math.ceil(this.policy.lockMs / 1000) };
      return { ok: false, reason: "invalid" };
    }
    await this.store.auth.recordLogin(user.id, t);
    return { ok: true, user: { ...user, lastLoginAt: t, failedLogins: 0, lockedUntil: null } };
  }
}

const SETUP_META_KEY = "setup_token_hash";

/**
 * First run: with no users, a one-time setup token is minted and its URL logged once. Only
 * the token's hash is kept, so every start without users logs a fresh one. Returns the token
 * (null when users exist). Call it once at server start.
 */
export async function ensureSetupToken(
  store: Store,
  logger: Logger,
  publicUrl: string,
): Promise<string | null> {
  if ((await store.auth.countUsers()) > 0) {
    if (await store.meta.get(SETUP_META_KEY)) await store.meta.set(SETUP_META_KEY, "");
    return null;
  }
  const token = randomBytes(24).toString("base64url");
  await store.meta.set(SETUP_META_KEY, hashToken(token));
  logger.warn(
    `No dashboard users yet. Create the first admin at ${publicUrl.replace(/\/+$/, "")}/setup?token=${token} ` +
      "(one-time link), or run: sentinel users add NAME --role admin",
  );
  return token;
}

/** True while there are no users and `token` is the current setup token. */
export async function setupTokenValid(store: Store, token: string | null | undefined): Promise<boolean> {
  if (!token || (await store.auth.countUsers()) > 0) return false;
  return tokensEqual(await store.meta.get(SETUP_META_KEY), hashToken(token));
}

export async function consumeSetupToken(store: Store): Promise<void> {
  await store.meta.set(SETUP_META_KEY, "");
}
