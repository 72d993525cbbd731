/**
 * Dashboard sessions. The cookie holds a random id; the database holds only its SHA-256, so a
 * copied database cannot be used to log in. Sessions slide (idle timeout) up to an absolute limit.
 */
import { randomBytes } from "node:crypto";
import type { SessionRecord, Store, UserRecord } from "../store/index.ts";
import { newCsrfToken } from "./csrf.ts";
import { hashToken } from "./keyring.ts";

export const SESSION_IDLE_MS = 12 * 3_600_000;
export const SESSION_MAX_MS = 7 * 86_400_000;
/** Writing last_seen on every request would turn each page view into a write; once a minute is enough. */
const TOUCH_EVERY_MS = 60_000;

/** `__Host-` binds the cookie to this exact origin, but browsers accept it only with Secure. */
export const sessionCookieName = (secure: boolean) =>
  secure ? "__Host-sentinel_session" : "sentinel_session";
export const loginCookieName = (secure: boolean) => (secure ? "__Host-sentinel_login" : "sentinel_login");

export interface ActiveSession {
  session: SessionRecord;
  user: UserRecord;
}

export async function startSession(store: Store, user: UserRecord, sourceIp: string | null, now: number) {
  const cookieValue = randomBytes(32).toString("base64url");
  const session: SessionRecord = {
    idHash: hashToken(cookieValue),
    userId: user.id,
    csrfToken: newCsrfToken(),
    createdAt: now,
    expiresAt: now + SESSION_IDLE_MS,
    lastSeenAt: now,
    sourceIp,
  };
  await store.auth.createSession(session);
  // Old sessions would otherwise pile up in the table forever.
  await store.auth.pruneSessions(now);
  return { cookieValue, session };
}

export async function loadSession(
  store: Store,
  cookieValue: string | undefined,
  now: number,
): Promise<ActiveSession | null> {
  if (!cookieValue || cookieValue.length > 100) return null;
  const idHash = hashToken(cookieValue);
  const session = await store.auth.getSession(idHash);
  if (!session) return null;
  if (session.expiresAt <= now || now - session.createdAt >= SESSION_MAX_MS) {
    await store.auth.deleteSession(idHash);
    return null;
  }
  const user = await store.auth.getUser(session.userId);
  if (!user) {
    await store.auth.deleteSession(idHash);
    return null;
  }
  if (now - session.lastSeenAt >= TOUCH_EVERY_MS) {
    const expiresAt = Math.min(now + SESSION_IDLE_MS, session.createdAt + SESSION_MAX_MS);
    await store.auth.touchSession(idHash, now, expiresAt);
    session.lastSeenAt = now;
    session.expiresAt = expiresAt;
  }
  return { session, user };
}

export async function endSession(store: Store, cookieValue: string | undefined): Promise<void> {
  if (cookieValue) await store.auth.deleteSession(hashToken(cookieValue));
}
