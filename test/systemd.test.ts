/**
 * The systemd units: `systemd-analyze verify` is clean, `systemd-analyze security` rates every
 * unit at most 2.0, the settings the product relies on are present, and install.sh carries
 * exactly these files.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { renderUnits, syncedInstallScript } from "../scripts/sync-install-units.ts";

const REPO = resolve(import.meta.dir, "..");
const UNITS = ["vpn-sentinel-server.service", "vpn-sentinel-client.service", "vpn-sentinel-client@.service"];
const MAX_EXPOSURE = 2.0;

const analyze = Bun.which("systemd-analyze");
if (!analyze) console.warn("systemd.test.ts: systemd-analyze checks SKIPPED — systemd is not installed");

const unitText = (name: string) => readFileSync(join(REPO, "systemd", name), "utf8");

/** Directive values of a unit (all occurrences), e.g. values(text, "EnvironmentFile"). */
function values(text: string, key: string): string[] {
  return [...text.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1] as string);
}

/**
 * A copy of the units that verify can load on any machine: ExecStart points at a stand-in
 * executable (verify insists that it exists) and the template is instantiated as @wg0.
 */
const staging = mkdtempSync(join(tmpdir(), "sentinel-units-"));
afterAll(() => rmSync(staging, { recursive: true, force: true }));
function staged(): string[] {
  const bin = join(staging, "sentinel");
  writeFileSync(bin, "#!/bin/sh\nexit 0\n");
  chmodSync(bin, 0o755);
  const files: string[] = [];
  for (const name of UNITS) {
    const target = join(staging, name.replace("@.service", "@wg0.service"));
    writeFileSync(target, unitText(name).replaceAll("/usr/local/bin/sentinel", bin));
    files.push(target);
  }
  return files;
}

describe("systemd units", () => {
  test.each(UNITS)("%s has the settings the service relies on", (name) => {
    const text = unitText(name);
    const role = name.includes("server") ? "server" : "client";
    expect(values(text, "Type")).toEqual(["notify"]);
    expect(values(text, "WatchdogSec")).toHaveLength(1);
    expect(values(text, "Restart")).toEqual(["on-failure"]);
    expect(values(text, "User")).toEqual(["vpn-sentinel"]);
    expect(values(text, "ExecStart")).toEqual([`/usr/local/bin/sentinel ${role}`]);
    expect(values(text, "EnvironmentFile")[0]).toBe(`/etc/vpn-sentinel/${role}.env`);
    expect(values(text, "ConfigurationDirectory")).toEqual(["vpn-sentinel"]);
    expect(values(text, "StateDirectory")[0]).toStartWith("vpn-sentinel");
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["CapabilityBoundingSet", ""],
      ["SystemCallFilter", "@system-service"],
    ] as const) {
      expect(values(text, key)).toContain(value);
    }
    expect(values(text, "RestrictAddressFamilies")).toEqual(["AF_UNIX AF_INET AF_INET6 AF_NETLINK"]);
    // JavaScriptCore's JIT and bun:ffi need writable+executable memory.
    expect(values(text, "MemoryDenyWriteExecute")).toEqual([]);
  });

  test("the server's data dir is the state directory", () => {
    expect(values(unitText("vpn-sentinel-server.service"), "Environment")).toContain(
      "SENTINEL_DATA_DIR=/var/lib/vpn-sentinel",
    );
  });

  test("the template client runs in the namespace named by the instance and uses its resolver", () => {
    const text = unitText("vpn-sentinel-client@.service");
    expect(values(text, "NetworkNamespacePath")).toEqual(["/run/netns/%i"]);
    // optional: a namespace without its own resolv.conf must not stop the unit from starting
    expect(values(text, "BindReadOnlyPaths")).toEqual(["-/etc/netns/%i/resolv.conf:/etc/resolv.conf"]);
    expect(values(text, "EnvironmentFile")).toEqual([
      "/etc/vpn-sentinel/client.env",
      "-/etc/vpn-sentinel/client-%i.env",
    ]);
    expect(values(text, "StateDirectory")).toEqual(["vpn-sentinel/client-%i"]);
  });

  test("the server's JavaScriptCore settings: the same in the image, and accepted by this Bun", () => {
    const jsc = values(unitText("vpn-sentinel-server.service"), "Environment").filter((v) =>
      v.startsWith("BUN_JSC_"),
    );
    expect(jsc).toEqual(["BUN_JSC_forceRAMSize=1073741824", "BUN_JSC_gcMaxHeapSize=8388608"]);
    const containerfile = readFileSync(join(REPO, "Containerfile"), "utf8");
    for (const setting of jsc) expect(containerfile).toContain(` ${setting}`);
    /** Bun with `env` added, printing "started": an option JavaScriptCore refuses stops it first */
    const bunWith = (env: Record<string, string>) => {
      const r = Bun.spawnSync([process.execPath, "-e", "console.log('started')"], {
        env: { ...process.env, ...env },
        stdout: "pipe",
        stderr: "pipe",
      });
      return { exitCode: r.exitCode, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
    };
    const env = Object.fromEntries(jsc.map((s) => s.split("=") as [string, string]));
    expect(bunWith(env)).toEqual({ exitCode: 0, stdout: "started", stderr: "" });
    expect(bunWith({ BUN_JSC_noSuchOption: "1" }).stderr).toContain("invalid JSC environment variable");
    // docs/operations.md: 0 gives Bun's defaults back (server.env), an empty value is refused
    const defaults = bunWith({ BUN_JSC_gcMaxHeapSize: "0", BUN_JSC_forceRAMSize: "0" });
    expect([defaults.exitCode, defaults.stdout]).toEqual([0, "started"]);
    expect(bunWith({ BUN_JSC_gcMaxHeapSize: "" }).stderr).toContain("invalid JSC environment variable");
  });

  test("install.sh carries exactly these units", () => {
    const script = readFileSync(join(REPO, "install.sh"), "utf8");
    // On failure: bun scripts/sync-install-units.ts
    expect(syncedInstallScript(script, renderUnits()) === script).toBe(true);
  });
});

describe.skipIf(!analyze)("systemd-analyze", () => {
  test("verify is clean for every unit", () => {
    for (const file of staged()) {
      const r = Bun.spawnSync([analyze as string, "verify", file], { stdout: "pipe", stderr: "pipe" });
      const messages = (r.stdout.toString() + r.stderr.toString())
        .split("\n")
        .filter((l) => l.includes("vpn-sentinel") || l.includes(staging));
      expect({ file, messages, code: r.exitCode }).toEqual({ file, messages: [], code: 0 });
    }
  });

  test.each(UNITS)(`security --offline rates %s at most ${MAX_EXPOSURE}`, (name) => {
    const file = join(staging, name.replace("@.service", "@wg0.service"));
    copyFileSync(join(REPO, "systemd", name), file);
    const r = Bun.spawnSync([analyze as string, "security", "--offline=true", "--no-pager", file], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const out = r.stdout.toString();
    const m = out.match(/Overall exposure level for \S+: (\d+(?:\.\d+)?)/);
    if (!m) throw new Error(`no overall exposure in systemd-analyze output:\n${out}\n${r.stderr.toString()}`);
    const score = Number(m[1]);
    if (score > MAX_EXPOSURE) console.error(out);
    expect(score).toBeLessThanOrEqual(MAX_EXPOSURE);
  });
});
