/**
 * systemd readiness and watchdog notifications (sd_notify protocol) without libsystemd.
 *
 * The protocol is one datagram of "KEY=VALUE\n..." on the AF_UNIX SOCK_DGRAM socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Bun and Node have no unix
 * datagram API, so this calls socket/sendto/close in glibc through bun:ffi; that works the same
 * from source, in tests and in the compiled binary, on x64 and arm64. libc is opened on the first
 * notification only, so processes not started by systemd never touch FFI.
 *
 * Notifications are best effort: every function returns whether the datagram was sent and never
 * throws, because a service must keep working when it was started outside systemd.
 */
import { dlopen, FFIType } from "bun:ffi";

type Env = Record<string, string | undefined>;

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000; // same value on x86_64 and aarch64
const MSG_NOSIGNAL = 0x4000;
const SUN_PATH_MAX = 108; // sizeof(sockaddr_un.sun_path) on Linux

let libc: ReturnType<typeof openLibc> | null | undefined;

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: {
      args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32],
      returns: FFIType.i64,
    },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  }).symbols;
}

function loadLibc() {
  if (libc === undefined) {
    try {
      libc = openLibc();
    } catch {
      libc = null;
    }
  }
  return libc;
}

/** Encodes $NOTIFY_SOCKET as a struct sockaddr_un, or null when it is not a unix socket name. */
function socketAddress(name: string): Uint8Array | null {
  const abstract = name.startsWith("@");
  if (!abstract && !name.startsWith("/")) return null; // e.g. "vsock:..." (systemd ≥ 254): unsupported
  const path = new TextEncoder().encode(abstract ? name.slice(1) : name);
  // An abstract name is a leading NUL plus the bytes (no terminator); a path needs its NUL.
  const pathBytes = abstract ? 1 + path.length : path.length + 1;
  if (pathBytes > SUN_PATH_MAX) return null;
  const addr = new Uint8Array(2 + pathBytes);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true); // sa_family_t, host order (little-endian on both targets)
  addr.set(path, abstract ? 3 : 2);
  return addr;
}

/**
 * Sends `state` (e.g. "READY=1", "STATUS=3 clients", several separated by "\n") to the service
 * manager. Returns false when NOTIFY_SOCKET is unset or the datagram could not be sent.
 */
export function sdNotify(state: string, env: Env = process.env): boolean {
  const name = env.NOTIFY_SOCKET;
  if (!name) return false;
  const addr = socketAddress(name);
  const c = addr && loadLibc();
  if (!addr || !c) return false;
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const payload = new TextEncoder().encode(state);
    const sent = Number(c.sendto(fd, payload, payload.length, MSG_NOSIGNAL, addr, addr.length));
    return sent === payload.length;
  } finally {
    c.close(fd);
  }
}

/** Tells systemd the service is up (Type=notify units stay "activating" until this). */
export function notifyReady(status?: string, env: Env = process.env): boolean {
  return sdNotify(status ? `READY=1\nSTATUS=${oneLine(status)}` : "READY=1", env);
}

/** Tells systemd a clean shutdown has begun, so a slow stop is not mistaken for a hang. */
export function notifyStopping(env: Env = process.env): boolean {
  return sdNotify("STOPPING=1", env);
}

export interface WatchdogOptions {
  /** Checked before every ping; returning false withholds it so systemd restarts a wedged service. */
  healthy?: () => boolean | Promise<boolean>;
  env?: Env;
}

/**
 * Pings WATCHDOG=1 at half of WATCHDOG_USEC (set by WatchdogSec=) while the event loop runs.
 * Returns a function that stops pinging. Does nothing when the watchdog is not enabled for this
 * process (no NOTIFY_SOCKET, no WATCHDOG_USEC, or WATCHDOG_PID names another process).
 */
export function startWatchdog(options: WatchdogOptions = {}): () => void {
  const env = options.env ?? process.env;
  const intervalMs = watchdogIntervalMs(env);
  if (intervalMs === null) return () => {};
  const ping = async () => {
    if (!options.healthy || (await Promise.resolve(options.healthy()).catch(() => false)))
      sdNotify("WATCHDOG=1", env);
  };
  void ping();
  const timer = setInterval(() => void ping(), Math.max(1, Math.floor(intervalMs / 2)));
  timer.unref(); // the watchdog alone must not keep a finished process alive
  return () => clearInterval(timer);
}

/** The watchdog timeout in milliseconds for this process, or null when it is not enabled. */
function watchdogIntervalMs(env: Env = process.env): number | null {
  if (!env.NOTIFY_SOCKET || !env.WATCHDOG_USEC) return null;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  return usec / 1000;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}
