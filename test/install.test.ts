/**
 * install.sh, run by /bin/sh (dash on Debian, so bashisms fail here) into temporary --root
 * directories with a stand-in binary. Nothing is downloaded: every install passes --binary.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "..");
const INSTALL = join(REPO, "install.sh");
const scratch = mkdtempSync(join(tmpdir(), "sentinel-install-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
function freshRoot(): string {
  const dir = join(scratch, `root${++counter}`);
  mkdirSync(dir);
  return dir;
}

/** A stand-in for the sentinel binary: a script that prints a version line. */
function standIn(label: string): string {
  const dir = join(scratch, `bin-${label}-${++counter}`);
  mkdirSync(dir);
  const path = join(dir, "sentinel-linux-x64");
  writeFileSync(path, `#!/bin/sh\necho "sentinel ${label} (stand-in)"\n`);
  chmodSync(path, 0o755);
  return path;
}

interface Run {
  code: number;
  out: string;
  err: string;
}

function install(args: string[], env: Record<string, string> = {}): Run {
  const r = Bun.spawnSync(["sh", INSTALL, ...args], {
    env: {
      PATH: Bun.env.PATH ?? "/usr/bin:/bin",
      SENTINEL_ARCH: "x86_64",
      SENTINEL_CPUINFO: cpuinfo(true),
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

function ok(args: string[], env?: Record<string, string>): string {
  const r = install(args, env);
  if (r.code !== 0) throw new Error(`install.sh ${args.join(" ")} exited ${r.code}\n${r.out}\n${r.err}`);
  return r.out;
}

function cpuinfo(avx2: boolean): string {
  const path = join(scratch, avx2 ? "cpuinfo-avx2" : "cpuinfo-old");
  if (!existsSync(path)) {
    writeFileSync(
      path,
      `processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx${avx2 ? " avx2 bmi2" : ""}\n`,
    );
  }
  return path;
}

const mode = (p: string) => lstatSync(p).mode & 0o7777;
const read = (p: string) => readFileSync(p, "utf8");

/** Every path under root with its mode, link target or content hash: a comparable snapshot. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const rel = p.slice(root.length);
      if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else {
        const hash = createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16);
        out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${hash}`;
      }
    }
  };
  walk(root);
  return out;
}

describe("install.sh server", () => {
  test("a fresh install writes the binary, user entry, config, data dir and an enabled unit", () => {
    const root = freshRoot();
    const out = ok(["server", "--root", root, "--binary", standIn("1.0.0")]);
    expect(mode(join(root, "usr/local/bin/sentinel"))).toBe(0o755);
    expect(read(join(root, "usr/local/bin/sentinel"))).toContain("sentinel 1.0.0");
    expect(mode(join(root, "etc/vpn-sentinel"))).toBe(0o750);
    expect(mode(join(root, "etc/vpn-sentinel/server.env"))).toBe(0o640);
    expect(read(join(root, "etc/vpn-sentinel/server.env"))).toContain("SENTINEL_LISTEN=0.0.0.0:8088");
    expect(mode(join(root, "var/lib/vpn-sentinel"))).toBe(0o750);
    expect(read(join(root, "etc/sysusers.d/vpn-sentinel.conf"))).toMatch(
      /^u vpn-sentinel - .* \/var\/lib\/vpn-sentinel /m,
    );
    const unit = join(root, "etc/systemd/system/vpn-sentinel-server.service");
    expect(mode(unit)).toBe(0o644);
    expect(read(unit)).toBe(read(join(REPO, "systemd/vpn-sentinel-server.service")));
    expect(
      readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/vpn-sentinel-server.service")),
    ).toBe("../vpn-sentinel-server.service");
    expect(existsSync(join(root, "etc/systemd/system/vpn-sentinel-client.service"))).toBe(false);
    // --root never creates accounts and never calls systemctl; it says so and gives the next step.
    expect(out).toContain("user is not created here");
    expect(out).not.toContain("systemctl enable");
    expect(out).toContain("sentinel clients add NAME");
  });

  test("running it again changes nothing and says so", () => {
    const root = freshRoot();
    const bin = standIn("1.0.0");
    ok(["server", "--root", root, "--binary", bin]);
    const before = snapshot(root);
    const again = ok(["server", "--root", root, "--binary", bin]);
    expect(snapshot(root)).toEqual(before);
    expect(again).toContain("is already this binary");
    expect(again).toContain("server.env kept as it is");
    expect(again).toContain("vpn-sentinel-server.service is up to date");
    expect(again).not.toContain("  write ");
  });

  test("an upgrade replaces the binary and keeps configuration and data", () => {
    const root = freshRoot();
    ok(["server", "--root", root, "--binary", standIn("1.0.0")]);
    const env = join(root, "etc/vpn-sentinel/server.env");
    appendFileSync(env, "SENTINEL_PUBLIC_URL=http://pi.home.arpa:8088\n");
    const edited = read(env);
    writeFileSync(join(root, "var/lib/vpn-sentinel/sentinel.sqlite"), "precious");
    const out = ok(["server", "--root", root, "--binary", standIn("1.1.0")]);
    expect(out).toContain("replace /usr/local/bin/sentinel");
    expect(read(join(root, "usr/local/bin/sentinel"))).toContain("sentinel 1.1.0");
    expect(read(env)).toBe(edited);
    expect(mode(env)).toBe(0o640);
    expect(read(join(root, "var/lib/vpn-sentinel/sentinel.sqlite"))).toBe("precious");
  });

  test("--prefix moves the binary and the units' ExecStart with it", () => {
    const root = freshRoot();
    ok(["server", "--root", root, "--prefix", "/opt/sentinel", "--binary", standIn("1.0.0")]);
    expect(mode(join(root, "opt/sentinel/bin/sentinel"))).toBe(0o755);
    expect(existsSync(join(root, "usr/local/bin/sentinel"))).toBe(false);
    expect(read(join(root, "etc/systemd/system/vpn-sentinel-server.service"))).toContain(
      "ExecStart=/opt/sentinel/bin/sentinel server\n",
    );
  });

  test("uninstall keeps configuration and data; --purge removes them", () => {
    const root = freshRoot();
    ok(["server", "--root", root, "--binary", standIn("1.0.0")]);
    writeFileSync(join(root, "var/lib/vpn-sentinel/sentinel.sqlite"), "precious");
    const out = ok(["server", "--root", root, "--uninstall"]);
    expect(out).toContain("were kept");
    expect(existsSync(join(root, "etc/systemd/system/vpn-sentinel-server.service"))).toBe(false);
    expect(
      existsSync(join(root, "etc/systemd/system/multi-user.target.wants/vpn-sentinel-server.service")),
    ).toBe(false);
    expect(existsSync(join(root, "usr/local/bin/sentinel"))).toBe(false);
    expect(existsSync(join(root, "etc/vpn-sentinel/server.env"))).toBe(true);
    expect(read(join(root, "var/lib/vpn-sentinel/sentinel.sqlite"))).toBe("precious");

    // Reinstalling after an uninstall finds the old configuration and data again.
    ok(["server", "--root", root, "--binary", standIn("1.0.1")]);
    expect(read(join(root, "var/lib/vpn-sentinel/sentinel.sqlite"))).toBe("precious");

    ok(["server", "--root", root, "--uninstall", "--purge"]);
    for (const gone of [
      "etc/vpn-sentinel",
      "var/lib/vpn-sentinel",
      "etc/sysusers.d/vpn-sentinel.conf",
      "usr/local/bin/sentinel",
    ]) {
      expect(existsSync(join(root, gone))).toBe(false);
    }
  });

  test("--purge names every file it deletes", () => {
    const root = freshRoot();
    ok(["server", "--root", root, "--binary", standIn("1.0.0")]);
    ok(["client", "--root", root, "--binary", standIn("1.0.0"), "--token", "st1.x"]);
    const put = (rel: string, text = "x") => {
      mkdirSync(join(root, rel, ".."), { recursive: true });
      writeFileSync(join(root, rel), text);
    };
    for (const f of [
      "var/lib/vpn-sentinel/sentinel.db",
      "var/lib/vpn-sentinel/sentinel.db-wal",
      "var/lib/vpn-sentinel/server.key",
      "var/lib/vpn-sentinel/backups/2026-11-20.db",
      "var/lib/vpn-sentinel/client/spool/c_1/0001.json",
      "etc/vpn-sentinel/tls/privkey.pem",
    ])
      put(f);
    const before = Object.keys(snapshot(root));
    const out =
      ok(["server", "--root", root, "--uninstall", "--purge"]) +
      ok(["client", "--root", root, "--uninstall", "--purge"]);
    const after = new Set(Object.keys(snapshot(root)));
    const deleted = before.filter((p) => !after.has(p));
    expect(deleted).toContain("/etc/vpn-sentinel/tls/privkey.pem");
    expect(deleted).toContain("/var/lib/vpn-sentinel/client/spool/c_1/0001.json");
    const named = new Set(
      out
        .split("\n")
        .map((l) => /^ {2}remove (\S+?)\/?$/.exec(l)?.[1])
        .filter(Boolean),
    );
    expect(deleted.filter((p) => !named.has(p))).toEqual([]);
  });

  test("--dry-run prints the actions and changes nothing", () => {
    const root = freshRoot();
    const out = ok(["server", "--root", root, "--binary", standIn("1.0.0"), "--dry-run"]);
    expect(out).toContain("would: install /usr/local/bin/sentinel");
    expect(out).toContain("would: create /etc/vpn-sentinel/server.env");
    expect(out).toContain("would: enable vpn-sentinel-server.service");
    expect(readdirSync(root)).toEqual([]);

    ok(["server", "--root", root, "--binary", standIn("1.0.0")]);
    const before = snapshot(root);
    const un = ok(["server", "--root", root, "--uninstall", "--purge", "--dry-run"]);
    expect(un).toContain("would: remove /etc/vpn-sentinel");
    expect(snapshot(root)).toEqual(before);
  });

  test("without --binary it would download the release for the detected CPU and verify it", () => {
    const root = freshRoot();
    const env = { SENTINEL_RELEASE_URL: "http://127.0.0.1:9/releases" };
    const latest = ok(["server", "--root", root, "--dry-run"], { ...env, SENTINEL_CPUINFO: cpuinfo(false) });
    expect(latest).toContain("(x64-baseline)");
    expect(latest).toContain(
      "would: download http://127.0.0.1:9/releases/latest/download/sentinel-linux-x64-baseline and http://127.0.0.1:9/releases/latest/download/SHA256SUMS",
    );
    const pinned = ok(["server", "--root", root, "--dry-run", "--version", "v1.2.3"], env);
    expect(pinned).toContain("(x64)");
    expect(pinned).toContain("releases/download/v1.2.3/sentinel-linux-x64 ");
    const arm = ok(["client", "--root", root, "--dry-run"], { ...env, SENTINEL_ARCH: "aarch64" });
    expect(arm).toContain("/sentinel-linux-arm64 ");
  });

  test("a SHA256SUMS beside --binary is checked", () => {
    const bin = standIn("1.0.0");
    const dir = resolve(bin, "..");
    const digest = createHash("sha256").update(readFileSync(bin)).digest("hex");
    writeFileSync(join(dir, "SHA256SUMS"), `${digest}  sentinel-linux-x64\n`);
    expect(ok(["server", "--root", freshRoot(), "--binary", bin])).toContain("verified sentinel-linux-x64");
    writeFileSync(join(dir, "SHA256SUMS"), `${"0".repeat(64)}  sentinel-linux-x64\n`);
    const bad = install(["server", "--root", freshRoot(), "--binary", bin]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("checksum mismatch for sentinel-linux-x64");
  });
});

describe("install.sh client", () => {
  test("--server and --token go into client.env (0640) on first install only", () => {
    const root = freshRoot();
    const out = ok([
      "client",
      "--root",
      root,
      "--binary",
      standIn("1.0.0"),
      "--server",
      "http://192.0.2.1:8088",
      "--token",
      "st1.first",
    ]);
    const env = join(root, "etc/vpn-sentinel/client.env");
    expect(mode(env)).toBe(0o640);
    expect(read(env)).toContain("SENTINEL_SERVER=http://192.0.2.1:8088\nSENTINEL_TOKEN=st1.first\n");
    for (const u of ["vpn-sentinel-client.service", "vpn-sentinel-client@.service"]) {
      expect(read(join(root, "etc/systemd/system", u))).toBe(read(join(REPO, "systemd", u)));
    }
    expect(
      lstatSync(
        join(root, "etc/systemd/system/multi-user.target.wants/vpn-sentinel-client.service"),
      ).isSymbolicLink(),
    ).toBe(true);
    expect(out).toContain("journalctl -u vpn-sentinel-client.service");

    const again = ok(["client", "--root", root, "--binary", standIn("1.0.0"), "--token", "st1.second"]);
    expect(read(env)).toContain("SENTINEL_TOKEN=st1.first\n");
    expect(again).toContain("were not written");
  });

  test("the token may come from SENTINEL_TOKEN instead of the command line", () => {
    const root = freshRoot();
    ok(["client", "--root", root, "--binary", standIn("1.0.0")], { SENTINEL_TOKEN: "st1.fromenv" });
    expect(read(join(root, "etc/vpn-sentinel/client.env"))).toContain("SENTINEL_TOKEN=st1.fromenv\n");
  });

  test("without a token it says what to set next", () => {
    const root = freshRoot();
    const out = ok(["client", "--root", root, "--binary", standIn("1.0.0")]);
    expect(read(join(root, "etc/vpn-sentinel/client.env"))).toContain("#SENTINEL_TOKEN=");
    expect(out).toContain("set SENTINEL_SERVER and SENTINEL_TOKEN in /etc/vpn-sentinel/client.env");
  });

  test("--netns enables the namespace instance with its own env file; uninstalling it keeps the rest", () => {
    const root = freshRoot();
    ok(["client", "--root", root, "--binary", standIn("1.0.0"), "--netns", "wg0", "--token", "st1.wg0"]);
    ok(["client", "--root", root, "--binary", standIn("1.0.0"), "--netns", "wg1", "--token", "st1.wg1"]);
    const wants = join(root, "etc/systemd/system/multi-user.target.wants");
    expect(readlinkSync(join(wants, "vpn-sentinel-client@wg0.service"))).toBe(
      "../vpn-sentinel-client@.service",
    );
    expect(readlinkSync(join(wants, "vpn-sentinel-client@wg1.service"))).toBe(
      "../vpn-sentinel-client@.service",
    );
    expect(existsSync(join(wants, "vpn-sentinel-client.service"))).toBe(false);
    expect(read(join(root, "etc/vpn-sentinel/client-wg0.env"))).toContain("SENTINEL_TOKEN=st1.wg0\n");
    expect(mode(join(root, "etc/vpn-sentinel/client-wg1.env"))).toBe(0o640);
    expect(read(join(root, "etc/vpn-sentinel/client.env"))).not.toContain("SENTINEL_TOKEN=st1");

    ok(["client", "--root", root, "--netns", "wg0", "--uninstall", "--purge"]);
    expect(existsSync(join(wants, "vpn-sentinel-client@wg0.service"))).toBe(false);
    expect(existsSync(join(root, "etc/vpn-sentinel/client-wg0.env"))).toBe(false);
    expect(existsSync(join(wants, "vpn-sentinel-client@wg1.service"))).toBe(true);
    expect(existsSync(join(root, "usr/local/bin/sentinel"))).toBe(true);

    ok(["client", "--root", root, "--uninstall"]);
    expect(existsSync(join(wants, "vpn-sentinel-client@wg1.service"))).toBe(false);
    expect(existsSync(join(root, "etc/systemd/system/vpn-sentinel-client@.service"))).toBe(false);
    expect(existsSync(join(root, "etc/vpn-sentinel/client-wg1.env"))).toBe(true);
  });

  test("--netns says when the namespace has no resolv.conf of its own", () => {
    const root = freshRoot();
    const out = ok([
      "client",
      "--root",
      root,
      "--binary",
      standIn("1.0.0"),
      "--netns",
      "wg0",
      "--token",
      "st1.x",
    ]);
    expect(out).toContain(
      "note: /etc/netns/wg0/resolv.conf does not exist, so the client asks the host's resolver",
    );
    mkdirSync(join(root, "etc/netns/wg1"), { recursive: true });
    writeFileSync(join(root, "etc/netns/wg1/resolv.conf"), "nameserver 10.64.0.1\n");
    const fine = ok([
      "client",
      "--root",
      root,
      "--binary",
      standIn("1.0.0"),
      "--netns",
      "wg1",
      "--token",
      "st1.y",
    ]);
    expect(fine).not.toContain("resolv.conf does not exist");
  });

  test("server and client on one host share the binary until both are gone", () => {
    const root = freshRoot();
    ok(["server", "--root", root, "--binary", standIn("1.0.0")]);
    ok(["client", "--root", root, "--binary", standIn("1.0.0"), "--token", "st1.x"]);
    expect(ok(["server", "--root", root, "--uninstall", "--purge"])).toContain(
      "the other role is still installed",
    );
    expect(existsSync(join(root, "usr/local/bin/sentinel"))).toBe(true);
    expect(existsSync(join(root, "etc/vpn-sentinel/client.env"))).toBe(true);
    expect(existsSync(join(root, "etc/vpn-sentinel/server.env"))).toBe(false);
    ok(["client", "--root", root, "--uninstall"]);
    expect(existsSync(join(root, "usr/local/bin/sentinel"))).toBe(false);
  });
});

describe("install.sh refuses what it cannot do", () => {
  test.each(["armv7l", "armv6l"])("a 32-bit ARM CPU (%s) gets pointed to the shell reporter", (arch) => {
    const root = freshRoot();
    const r = install(["client", "--root", root, "--binary", standIn("1.0.0")], { SENTINEL_ARCH: arch });
    expect(r.code).toBe(3);
    expect(r.err).toContain(`32-bit ARM CPU (${arch})`);
    expect(r.err).toContain("contrib/sentinel-report.sh");
    expect(readdirSync(root)).toEqual([]);
  });

  test.each([
    [["router"], "first argument must be server or client"],
    [["server", "--frobnicate"], "unknown option '--frobnicate'"],
    [["server", "--netns", "wg0"], "--netns is for the client"],
    [["server", "--token", "st1.x"], "--server and --token are for the client"],
    [["client", "--netns", "../etc"], "is not a namespace name"],
    [["client", "--server", "http://192.0.2.1"], "--server needs --token"],
    [["client", "--token", 'st1."quoted"'], "must not contain spaces or quotes"],
    [["server", "--purge"], "--purge only goes with --uninstall"],
    [["server", "--prefix", "relative"], "--prefix must be an absolute path"],
    [["server", "--binary"], "--binary needs a value"],
  ])("%p is a usage error", (args, message) => {
    const r = install([args[0] as string, "--root", freshRoot(), ...args.slice(1)]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  test("a missing --binary file is reported", () => {
    const r = install(["server", "--root", freshRoot(), "--binary", join(scratch, "nope")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("no such file");
  });
});

describe("shell scripts are shellcheck-clean", () => {
  const shellcheck = Bun.which("shellcheck");
  if (!shellcheck)
    console.warn("install.test.ts: shellcheck SKIPPED — not installed (apt-get install -y shellcheck)");
  test.skipIf(!shellcheck)("shellcheck install.sh .ci/run", () => {
    const files = ["install.sh", ".ci/run"].filter((f) => existsSync(join(REPO, f)));
    const r = Bun.spawnSync([shellcheck as string, ...files], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
