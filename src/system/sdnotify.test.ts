/**
 * sd_notify against a real AF_UNIX SOCK_DGRAM socket. The receiving side is python3 (an
 * implementation independent of ours), bound either to a path or to an abstract name.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { notifyReady, notifyStopping, sdNotify, startWatchdog } from "./sdnotify.ts";

const python = Bun.which("python3");
if (!python)
  console.warn("sdnotify.test.ts: SKIPPED — python3 is not installed (apt-get install -y python3)");

const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind("\\0" + name[1:] if name.startswith("@") else name)
print("bound", flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps(data.decode()), flush=True)
`;

interface Receiver {
  name: string;
  next(timeoutMs?: number): Promise<string>;
  /** Whatever arrives within `ms`. */
  drain(ms: number): Promise<string[]>;
  stop(): void;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function startReceiver(kind: "path" | "abstract"): Promise<Receiver> {
  const dir = mkdtempSync(join(tmpdir(), "sdnotify-"));
  const name = kind === "path" ? join(dir, "notify.sock") : `@sentinel-test-${process.pid}-${Date.now()}`;
  const proc = Bun.spawn([python as string, "-c", RECEIVER, name], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const lines: string[] = [];
  let buffered = "";
  let waiter: (() => void) | undefined;
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += new TextDecoder().decode(value);
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        lines.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
      }
      waiter?.();
    }
  })();
  const nextLine = async (timeoutMs = 2000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no datagram arrived");
      await new Promise<void>((resolve) => {
        waiter = resolve;
        setTimeout(resolve, left);
      });
    }
    return lines.shift() as string;
  };
  const stop = () => {
    proc.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(stop);
  expect(await nextLine(5000)).toBe("bound");
  return {
    name,
    next: async (t) => JSON.parse(await nextLine(t)) as string,
    drain: async (ms) => {
      await Bun.sleep(ms);
      return lines.splice(0).map((l) => JSON.parse(l) as string);
    },
    stop,
  };
}

describe.skipIf(!python)("sd_notify over a unix datagram socket", () => {
  test("READY=1 with a status reaches a socket bound to a path", async () => {
    const r = await startReceiver("path");
    expect(notifyReady("listening on 127.0.0.1:8088", { NOTIFY_SOCKET: r.name })).toBe(true);
    expect(await r.next()).toBe("READY=1\nSTATUS=listening on 127.0.0.1:8088");
  });

  test("an abstract socket name (@...) is addressed in the abstract namespace", async () => {
    const r = await startReceiver("abstract");
    expect(notifyStopping({ NOTIFY_SOCKET: r.name })).toBe(true);
    expect(await r.next()).toBe("STOPPING=1");
  });

  test("arbitrary state, multi-byte text and a status with newlines stay one datagram", async () => {
    const r = await startReceiver("path");
    expect(sdNotify("STATUS=3 clients — all green", { NOTIFY_SOCKET: r.name })).toBe(true);
    expect(await r.next()).toBe("STATUS=3 clients — all green");
    expect(notifyReady("a\nb", { NOTIFY_SOCKET: r.name })).toBe(true);
    expect(await r.next()).toBe("READY=1\nSTATUS=a b");
  });

  test("the watchdog pings at half of WATCHDOG_USEC and stops when asked", async () => {
    const r = await startReceiver("path");
    const stop = startWatchdog({ env: { NOTIFY_SOCKET: r.name, WATCHDOG_USEC: "200000" } });
    try {
      const got = await r.drain(450); // immediate ping + one every 100 ms
      expect(got.every((m) => m === "WATCHDOG=1")).toBe(true);
      expect(got.length).toBeGreaterThanOrEqual(3);
      expect(got.length).toBeLessThanOrEqual(7);
    } finally {
      stop();
    }
    await r.drain(50);
    expect(await r.drain(250)).toEqual([]);
  });

  test("WATCHDOG_PID of this process enables the watchdog; another PID does not", async () => {
    const r = await startReceiver("path");
    const mine = startWatchdog({
      env: { NOTIFY_SOCKET: r.name, WATCHDOG_USEC: "10000000", WATCHDOG_PID: String(process.pid) },
    });
    expect(await r.next()).toBe("WATCHDOG=1");
    mine();
    const other = startWatchdog({
      env: { NOTIFY_SOCKET: r.name, WATCHDOG_USEC: "100000", WATCHDOG_PID: String(process.pid + 1) },
    });
    expect(await r.drain(200)).toEqual([]);
    other();
  });

  test("a missing or invalid WATCHDOG_USEC leaves the watchdog off", async () => {
    const r = await startReceiver("path");
    const stops = [undefined, "", "0", "-5", "abc", "1.5"].map((usec) =>
      startWatchdog({ env: { NOTIFY_SOCKET: r.name, WATCHDOG_USEC: usec } }),
    );
    expect(await r.drain(150)).toEqual([]);
    for (const stop of stops) stop();
  });

  test("an unhealthy service withholds its pings", async () => {
    const r = await startReceiver("path");
    let healthy = false;
    const stop = startWatchdog({
      healthy: () => healthy,
      env: { NOTIFY_SOCKET: r.name, WATCHDOG_USEC: "100000" },
    });
    try {
      expect(await r.drain(150)).toEqual([]);
      healthy = true;
      expect(await r.next(500)).toBe("WATCHDOG=1");
    } finally {
      stop();
    }
  });
});

describe("without a usable NOTIFY_SOCKET", () => {
  test("every call is a no-op that reports false", () => {
    expect(sdNotify("READY=1", {})).toBe(false);
    expect(notifyReady(undefined, {})).toBe(false);
    expect(notifyStopping({})).toBe(false);
    const stop = startWatchdog({ env: { WATCHDOG_USEC: "100000" } });
    stop();
  });

  test("a socket nobody listens on, an unsupported scheme or an over-long path is reported, not thrown", () => {
    expect(sdNotify("READY=1", { NOTIFY_SOCKET: join(tmpdir(), `no-such-${process.pid}.sock`) })).toBe(false);
    expect(sdNotify("READY=1", { NOTIFY_SOCKET: "vsock:2:1234" })).toBe(false);
    expect(sdNotify("READY=1", { NOTIFY_SOCKET: `/${"x".repeat(200)}` })).toBe(false);
  });
});
