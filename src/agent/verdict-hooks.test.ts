import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runHook, VerdictHooks, type VerdictHooksOptions } from "./verdict-hooks.ts";

const RED = { status: "red", reasons: ["Traffic bypasses the VPN: the IPv4 exit 198.51.100.1 is home."] };
const GREEN = { status: "green", reasons: ["Protected. Exit 203.0.113.1."] };
const YELLOW = { status: "yellow", reasons: ["Not every check could be confirmed."] };

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

function setup(over: Partial<VerdictHooksOptions> = {}) {
  dir = mkdtempSync(join(tmpdir(), "sentinel-hooks-"));
  const runs = join(dir, "runs");
  const logs: string[] = [];
  const redStarts: number[] = []; // when each on-red run began, by the clock the hooks use
  const log = (m: string) => {
    if (m.startsWith("on-red hook: running")) redStarts.push(Date.now());
    logs.push(m);
  };
  // each run appends "<hook> <status> <client> <reasons JSON>" and says something on both streams
  const record = (name: string) =>
    `echo "${name} $SENTINEL_STATUS $SENTINEL_CLIENT $SENTINEL_REASONS token=\${SENTINEL_TOKEN:-none}" >> ${runs}; echo restarted wg0; echo warning on stderr >&2`;
  const hooks = new VerdictHooks({
    onRed: record("red"),
    onGreen: record("green"),
    timeoutMs: 5000,
    clientId: "c_pi",
    env: { PATH: process.env.PATH, HOME: dir },
    logger: { debug: log, info: log, warn: log, error: log },
    backoff: { baseMs: 300, maxMs: 1200 },
    drainMs: 50,
    ...over,
  });
  const lines = () => (existsSync(runs) ? readFileSync(runs, "utf8").trim().split("\n") : []);
  return { hooks, lines, logs, runs, redStarts };
}

describe("--on-red / --on-green", () => {
  test("once per change: red runs on-red, staying red runs nothing, green after red runs on-green", async () => {
    const { hooks, lines, logs } = setup();
    hooks.observe(GREEN); // green at start is not "back to green"
    await hooks.idle;
    expect(lines()).toEqual([]);
    hooks.observe(RED);
    await hooks.idle;
    hooks.observe(RED);
    hooks.observe(YELLOW);
    await hooks.idle;
    hooks.observe(GREEN);
    await hooks.idle;
    hooks.observe(GREEN);
    await hooks.idle;
    expect(lines()).toEqual([
      `red red c_pi ${JSON.stringify(RED.reasons)} token=none`,
      `green green c_pi ${JSON.stringify(GREEN.reasons)} token=none`,
    ]);
    // the hook's output, both streams, is in the client log
    expect(logs).toContain("on-red hook: restarted wg0");
    expect(logs).toContain("on-red hook: warning on stderr");
    expect(logs.some((l) => /^on-red hook: finished after/.test(l))).toBe(true);
    hooks.stop();
  });

  test("a repair that does not hold is backed off: red again without green waits, then runs once", async () => {
    const { hooks, lines, logs, redStarts } = setup();
    const runsOf = async (n: number) => {
      while (lines().length < n) await Bun.sleep(10);
      await hooks.idle;
    };
    hooks.observe(RED);
    await hooks.idle;
    hooks.observe(YELLOW);
    hooks.observe(RED); // red again, never green in between: held back 300 ms from the first run
    await hooks.idle;
    expect(lines().length).toBe(1);
    expect(
      logs.some(
        (l) => l.includes("on-red hook held back") && l.includes("without the verdict turning green"),
      ),
    ).toBe(true);
    await runsOf(2);
    // a third time waits twice as long (gaps between starts: a loaded machine only widens them)
    hooks.observe(YELLOW);
    hooks.observe(RED);
    await runsOf(3);
    const [first, second, third] = redStarts as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(290); // logged a moment after the run took its start time
    expect(third - second).toBeGreaterThanOrEqual(590);
    expect(lines().length).toBe(3); // once each time, not once per red observed
    // green resets it: the next red acts at once
    hooks.observe(GREEN);
    await hooks.idle;
    hooks.observe(RED);
    await hooks.idle;
    expect(lines().filter((l) => l.startsWith("red")).length).toBe(4);
    hooks.stop();
  });

  test("a verdict that is over before its back-off ends runs nothing", async () => {
    const { hooks, lines } = setup({ onGreen: undefined });
    hooks.observe(RED);
    await hooks.idle;
    hooks.observe(YELLOW);
    hooks.observe(RED);
    hooks.observe(YELLOW); // no longer red when the back-off ends
    await Bun.sleep(450);
    await hooks.idle;
    expect(lines().length).toBe(1);
    hooks.stop();
  });

  test("a failing on-green is backed off; a change while a hook runs waits for it", async () => {
    dir = mkdtempSync(join(tmpdir(), "sentinel-hooks-"));
    const runs = join(dir, "runs");
    const logs: string[] = [];
    const log = (m: string) => logs.push(m);
    const hooks = new VerdictHooks({
      onRed: `sleep 0.3; echo red >> ${runs}`,
      onGreen: `echo green >> ${runs}; exit 3`,
      timeoutMs: 5000,
      clientId: "c_pi",
      env: { PATH: process.env.PATH },
      logger: { debug: log, info: log, warn: log, error: log },
      backoff: { baseMs: 400, maxMs: 1600 },
      drainMs: 50,
    });
    hooks.observe(RED);
    hooks.observe(GREEN); // while on-red still runs
    await hooks.idle;
    await Bun.sleep(50);
    await hooks.idle;
    expect(readFileSync(runs, "utf8")).toBe("red\ngreen\n");
    expect(
      logs.some(
        (l) => l.startsWith("on-green hook failed (exit status 3)") && l.includes("not run again for"),
      ),
    ).toBe(true);
    hooks.observe(RED);
    await hooks.idle;
    hooks.observe(GREEN); // on-green failed 0.3 s ago: held back
    await hooks.idle;
    expect(readFileSync(runs, "utf8")).toBe("red\ngreen\nred\n");
    expect(logs.some((l) => l.includes("on-green hook held back") && l.includes("failed 1 time(s)"))).toBe(
      true,
    );
    hooks.stop(); // and stop() cancels the held-back run
    await Bun.sleep(500);
    expect(readFileSync(runs, "utf8")).toBe("red\ngreen\nred\n");
  });
});

describe("runHook", () => {
  test("a hook past its timeout is stopped with its whole process group", async () => {
    dir = mkdtempSync(join(tmpdir(), "sentinel-hooks-"));
    const marker = join(dir, "late");
    const lines: string[] = [];
    const t0 = performance.now();
    const outcome = await runHook(
      `echo starting; (sleep 1; touch ${marker}) & sleep 10`,
      { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      300,
      { onLine: (l) => lines.push(l), drainMs: 50 },
    );
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(outcome).toEqual({ ok: false, problem: "timed out after 300ms, stopped" });
    expect(lines).toEqual(["starting"]);
    await Bun.sleep(1200);
    expect(existsSync(marker)).toBe(false); // the background child was stopped too
  });

  test("long output is cut; a background child holding the pipe does not hold the hook", async () => {
    const lines: string[] = [];
    const t0 = performance.now();
    const outcome = await runHook(
      "i=0; while [ $i -lt 80 ]; do echo line $i; i=$((i+1)); done; sleep 5 &",
      { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      5000,
      { onLine: (l) => lines.push(l), drainMs: 100 },
    );
    expect(outcome).toEqual({ ok: true });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(lines.length).toBe(51);
    expect(lines.at(-1)).toBe("(30 more line(s) not logged)");
  });

  test("a command that cannot run is a failure with its exit status", async () => {
    const outcome = await runHook("/nonexistent/command", { PATH: "/usr/bin:/bin" }, 2000, {
      onLine: () => {},
      drainMs: 50,
    });
    expect(outcome).toEqual({ ok: false, problem: "exit status 127" });
  });
});
