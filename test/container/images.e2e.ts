/**
 * The container images end to end, with real containers (podman + runc, no Docker daemon):
 * `bun run test:container` (root; ~3 minutes). Not part of `bun test`: the file name has no
 * .test. in it. Durations and image sizes are printed at the end.
 *
 *   sentinel-oci-world (container; the Internet)           sentinel-oci-vpn (container; gluetun's part)
 *   standins world: IP echo 192.0.2.200:80,                standins resolver: DNS on 127.0.0.1:53,
 *   who-is-asking DNS 192.0.2.201:53                       forwards to 192.0.2.201 by the current route
 *   sentinel-oci-server joined: 192.0.2.210:8088           sentinel-oci-client joined (--network container:)
 *     vpn0 203.0.113.254/24 ─────── veth ─────── tun0 203.0.113.1/24   (the tunnel: default route)
 *     isp0 198.51.100.254/24 ────── veth ─────── wan0 198.51.100.1/24  (the home line: the bypass)
 *
 * The server knows 198.51.100.1 as home. The client is green while its traffic leaves by tun0;
 * moving the vpn container's default route to wan0 is a bypass and turns it red. Nothing has a
 * route out of these namespaces. Then the images go to two local registries (Debian's
 * docker-registry on 127.0.0.1) and come back, and the arm64 image's binary runs under qemu
 * with the loader and C library of the image itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { currentEnv, ipIn, netns, PREFIX, podman, ROOT_DIR, run, setRegistries, wipe } from "./podman.ts";

const REPO = join(import.meta.dir, "../..");
const NAME = `localhost/${PREFIX}`;
const TAG = "e2e";
const image = (arch: string) => `${NAME}:${TAG}-${arch}`;
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
const SERVER_URL = "http://192.0.2.210:8088";
const HOME_IP = "198.51.100.1";
const VPN_EXIT = "203.0.113.1";
const c = (name: string) => `${PREFIX}-${name}`;

function unavailable(): string | null {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return "needs root on Linux";
  for (const tool of ["podman", "runc", "docker-registry", "qemu-aarch64-static", "ip", "curl"])
    if (run(["sh", "-c", `command -v ${tool}`], { allowFail: true }).code !== 0) return `${tool} is missing`;
  if (!existsSync("/lib/ld-linux-aarch64.so.1")) return "the arm64 C runtime is missing (libc6:arm64)";
  return null;
}
const reason = unavailable();
// CI must not pass by skipping
if (reason && Bun.env.CI) throw new Error(`the container test cannot run here: ${reason}`);

const timings: [string, number][] = [];
const sizes: string[] = [];
async function timed<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings.push([what, (performance.now() - t0) / 1000]);
  }
}

async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => T | null | undefined | false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await Bun.sleep(500);
  }
}

interface ClientRow {
  name: string;
  status: string;
  verdicts: { bypass: { status: string; reason: string } } | null;
}
const clientRow = (): ClientRow | undefined =>
  (
    JSON.parse(podman(["exec", c("server"), "sentinel", "clients", "list", "--json"]).stdout) as ClientRow[]
  ).find((r) => r.name === "oci-e2e");

const healthcheck = (container: string) => podman(["healthcheck", "run", container], { allowFail: true });
const health = (container: string) =>
  JSON.parse(podman(["inspect", container, "--format", "{{json .State.Health}}"]).stdout) as {
    Status: string;
    Log: { ExitCode: number; Output: string }[];
  };

const registries: Subprocess[] = [];
function startRegistry(name: string): string {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const address = `127.0.0.1:${s.port}`;
  s.stop(true);
  const dir = join(ROOT_DIR, name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: ${address}\n`,
  );
  registries.push(Bun.spawn(["docker-registry", "serve", config], { stdout: "ignore", stderr: "ignore" }));
  return address;
}

describe.skipIf(reason !== null)("container images", () => {
  beforeAll(() => wipe());
  afterAll(() => {
    for (const r of registries) r.kill();
    if (!Bun.env.SENTINEL_OCI_KEEP) {
      wipe();
      rmSync(ROOT_DIR, { recursive: true, force: true });
    }
    console.log(`\ncontainer test: ${sizes.join(", ")}`);
    for (const [what, s] of timings) console.log(`  ${what}: ${s.toFixed(1)} s`);
  });

  test("scripts/image.sh builds amd64 and arm64: the binary, its C library, a non-root user, /data, a healthcheck, labels", async () => {
    if (
      !existsSync(join(REPO, "dist/sentinel-linux-x64")) ||
      !existsSync(join(REPO, "dist/sentinel-linux-arm64"))
    )
      await timed("bun run build (x64, arm64)", () =>
        run(["bun", join(REPO, "scripts/build.ts"), "--target", "x64", "--target", "arm64"]),
      );
    await timed("image.sh: stage and build both images", () =>
      run(["bash", join(REPO, "scripts/image.sh"), "--no-build", "--name", NAME, "--tag", TAG], {
        env: currentEnv(),
      }),
    );
    const revision = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).stdout.trim();
    const loaders = { amd64: "/lib64/ld-linux-x86-64.so.2", arm64: "/lib/ld-linux-aarch64.so.1" };
    const libDir = { amd64: "/lib/x86_64-linux-gnu", arm64: "/lib/aarch64-linux-gnu" };
    for (const arch of ["amd64", "arm64"] as const) {
      const [info] = JSON.parse(podman(["image", "inspect", image(arch)]).stdout) as {
        Architecture: string;
        Os: string;
        Size: number;
        Config: {
          User: string;
          Entrypoint: string[];
          Cmd: string[];
          Volumes: Record<string, unknown>;
          Env: string[];
          Labels: Record<string, string>;
        };
        Healthcheck: { Test: string[] };
      }[];
      if (!info) throw new Error(`no image ${image(arch)}`);
      expect(info.Architecture).toBe(arch);
      expect(info.Os).toBe("linux");
      expect(info.Config.User).toBe("10001:10001");
      expect(info.Config.Entrypoint).toEqual(["sentinel"]);
      expect(info.Config.Cmd).toEqual(["server"]);
      expect(Object.keys(info.Config.Volumes)).toEqual(["/data"]);
      expect(info.Config.Env).toContain("SENTINEL_DATA_DIR=/data");
      expect(info.Healthcheck.Test).toEqual(["CMD", "sentinel", "healthcheck"]);
      expect(info.Config.Labels).toMatchObject({
        "org.opencontainers.image.version": VERSION,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.source": "https://github.com/vpn-sentinel/vpn-sentinel",
        "org.opencontainers.image.licenses": "NOASSERTION",
      });
      // small: the binary plus a few MiB of C library, nothing else
      const binary = statSync(join(REPO, `dist/sentinel-linux-${arch === "amd64" ? "x64" : "arm64"}`)).size;
      expect(info.Size - binary).toBeLessThan(8 * 1024 * 1024);
      sizes.push(
        `${arch} ${(info.Size / 1048576).toFixed(1)} MiB (binary ${(binary / 1048576).toFixed(1)} MiB)`,
      );

      // exactly these files: no shell, no package manager
      const root = podman(["image", "mount", image(arch)]).stdout.trim();
      try {
        const files: string[] = [];
        const walk = (dir: string) => {
          for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
            const path = `${dir}/${e.name}`;
            if (e.isDirectory()) walk(path);
            else files.push(path);
          }
        };
        walk("");
        expect(files.sort()).toEqual(
          [
            "/etc/group",
            "/etc/nsswitch.conf",
            "/etc/passwd",
            `${libDir[arch]}/libc.so.6`,
            `${libDir[arch]}/libdl.so.2`,
            `${libDir[arch]}/libm.so.6`,
            `${libDir[arch]}/libpthread.so.0`,
            loaders[arch],
            "/usr/local/bin/sentinel",
          ].sort(),
        );
        const data = statSync(join(root, "data"));
        expect([data.uid, data.gid]).toEqual([10001, 10001]);
        expect(statSync(join(root, "tmp")).mode & 0o7777).toBe(0o1777);
        if (arch === "arm64") {
          // the arm64 image's own loader and C library run its binary (qemu-user, no binfmt needed)
          const v = await timed("arm64 image: sentinel version under qemu", () =>
            run(["qemu-aarch64-static", "-L", root, join(root, "usr/local/bin/sentinel"), "version"]),
          );
          expect(v.stdout).toContain(`sentinel ${VERSION} (commit ${revision}, linux-arm64`);
        }
      } finally {
        podman(["image", "unmount", image(arch)], { allowFail: true });
      }
    }
    const v = podman(["run", "--rm", "--pull", "never", "--network", "none", image("amd64"), "version"]);
    expect(v.stdout).toContain(`sentinel ${VERSION} (commit ${revision}, linux-x64`);
  }, 600_000);

  test("server, a vpn container with the stand-ins, a client in its namespace: green, a bypass turns it red; health of both", async () => {
    const started = performance.now();
    // the stand-ins: one executable on the same C library, run from a plain root directory
    const standins = join(ROOT_DIR, "standins");
    rmSync(standins, { recursive: true, force: true });
    for (const dir of ["lib", "lib64"])
      cpSync(join(REPO, "dist/image/amd64/rootfs", dir), join(standins, dir), { recursive: true });
    run([
      "bun",
      "build",
      "--compile",
      join(import.meta.dir, "standins.ts"),
      "--outfile",
      join(standins, "standins"),
    ]);
    const resolvConf = join(ROOT_DIR, "resolv.conf");
    writeFileSync(resolvConf, "nameserver 127.0.0.1\n");

    podman([
      "run",
      "-d",
      "--name",
      c("world"),
      "--network",
      "none",
      "--rootfs",
      standins,
      "/standins",
      "world",
    ]);
    podman([
      ...["run", "-d", "--name", c("vpn"), "--network", "none"],
      ...[
        "-v",
        `${resolvConf}:/etc/resolv.conf:ro`,
        "--rootfs",
        standins,
        "/standins",
        "resolver",
        "192.0.2.201",
      ],
    ]);
    for (const name of ["world", "vpn"]) {
      const pid = podman(["inspect", c(name), "--format", "{{.State.Pid}}"]).stdout.trim();
      run(["ip", "netns", "attach", netns(name), pid]);
      ipIn(name, "link set lo up");
    }
    // the services' addresses (on lo: this kernel may have no dummy interfaces)
    for (const a of ["192.0.2.200", "192.0.2.201", "192.0.2.210"]) ipIn("world", `addr add ${a}/32 dev lo`);
    for (const [vpnSide, worldSide, vpnAddr, worldAddr] of [
      ["tun0", "vpn0", `${VPN_EXIT}/24`, "203.0.113.254/24"],
      ["wan0", "isp0", `${HOME_IP}/24`, "198.51.100.254/24"],
    ] as const) {
      run([
        ...["ip", "link", "add", vpnSide, "netns", netns("vpn"), "type", "veth"],
        ...["peer", "name", worldSide, "netns", netns("world")],
      ]);
      ipIn("vpn", `addr add ${vpnAddr} dev ${vpnSide}`);
      ipIn("world", `addr add ${worldAddr} dev ${worldSide}`);
      ipIn("vpn", `link set ${vpnSide} up`);
      ipIn("world", `link set ${worldSide} up`);
    }
    ipIn("vpn", "route add default via 203.0.113.254 dev tun0");
    // the stand-ins answer, and see the tunnel's address
    const inVpn = (cmd: string[]) => run(["ip", "netns", "exec", netns("vpn"), ...cmd], { allowFail: true });
    await until(
      "the echo stand-in",
      10_000,
      () => inVpn(["curl", "-s", "-m", "2", "http://192.0.2.200/"]).stdout.trim() === VPN_EXIT,
    );

    const geo = join(ROOT_DIR, "geo-overrides.json");
    writeFileSync(
      geo,
      JSON.stringify([
        { cidr: "198.51.100.0/24", country: "DE", asn: 64500, org: "Home ISP" },
        { cidr: "203.0.113.0/24", country: "SE", asn: 64501, org: "The VPN" },
      ]),
    );
    // configured the way compose does it: environment, a named volume, a read-only file
    podman([
      ...["run", "-d", "--pull", "never", "--name", c("server"), "--network", `container:${c("world")}`],
      ...["-v", `${c("server-data")}:/data`, "-v", `${geo}:/config/geo-overrides.json:ro`],
      ...["-e", `SENTINEL_PUBLIC_URL=${SERVER_URL}`, "-e", "SENTINEL_HOME_LEARN=false"],
      ...["-e", `SENTINEL_HOME_IP=${HOME_IP}`, "-e", "SENTINEL_GEO_OVERRIDES=/config/geo-overrides.json"],
      image("amd64"),
      "server",
    ]);
    await until("a healthy server", 30_000, () => healthcheck(c("server")).code === 0);

    // enrollment in the server container; the token reaches the client as a secret file
    const token = (
      JSON.parse(podman(["exec", c("server"), "sentinel", "clients", "add", "oci-e2e", "--json"]).stdout) as {
        token: string;
      }
    ).token;
    const tokenFile = join(ROOT_DIR, "token");
    writeFileSync(tokenFile, token, { mode: 0o600 });
    podman(["secret", "create", c("token"), tokenFile]);
    rmSync(tokenFile);
    podman([
      ...["run", "-d", "--pull", "never", "--name", c("client"), "--network", `container:${c("vpn")}`],
      ...["-v", `${resolvConf}:/etc/resolv.conf:ro`, "-v", `${c("client-data")}:/data`],
      ...["--secret", c("token"), "-e", `SENTINEL_TOKEN_FILE=/run/secrets/${c("token")}`],
      ...["-e", "SENTINEL_IP4_PROVIDER=http://192.0.2.200/", "-e", "SENTINEL_NO_IPV6=true"],
      ...["-e", "SENTINEL_INTERVAL=2s", "-e", "SENTINEL_HEALTH_MAX_AGE=8s"],
      image("amd64"),
      "client",
    ]);

    const green = await timed("client green on the server", () =>
      until("the client to turn green", 60_000, () => {
        const row = clientRow();
        return row?.status === "green" && row;
      }),
    );
    expect(green.verdicts?.bypass.status).toBe("ok");
    for (const name of ["server", "client"]) {
      const r = healthcheck(c(name));
      expect(r.code).toBe(0);
      expect(health(c(name)).Status).toBe("healthy");
    }
    expect(health(c("server")).Log.at(-1)?.Output).toStartWith("server (pid 1) healthy: ready");
    expect(health(c("client")).Log.at(-1)?.Output).toStartWith(
      "client (pid 1) healthy: last report delivered",
    );

    // the tunnel drops and the vpn container's traffic leaves by the home line
    ipIn("vpn", "route replace default via 198.51.100.254 dev wan0");
    const red = await timed("client red after the bypass", () =>
      until("the bypass to turn the client red", 60_000, () => {
        const row = clientRow();
        return row?.status === "red" && row?.verdicts?.bypass.status === "leak" && row;
      }),
    );
    expect(red.verdicts?.bypass.reason).toContain(HOME_IP);
    // a client that reports a leak is doing its job: still healthy
    expect(healthcheck(c("client")).code).toBe(0);
    expect(healthcheck(c("server")).code).toBe(0);

    // the vpn cuts the client off from its server: after SENTINEL_HEALTH_MAX_AGE it is unhealthy
    // (podman turns the status to "unhealthy" after 3 such checks once the image's 60 s start
    // period is over; that arithmetic is podman's, the check's verdict is ours)
    ipIn("vpn", "route del default");
    await timed("client healthcheck fails once cut off", () =>
      until("the client's healthcheck to fail", 60_000, () => healthcheck(c("client")).code === 1),
    );
    const failed = health(c("client")).Log.at(-1);
    expect(failed?.ExitCode).toBe(1);
    expect(failed?.Output).toStartWith("client (pid 1) unhealthy: no report delivered for more than 8s;");
    expect(failed?.Output).toContain(`last upload error: ${SERVER_URL} unreachable (network unreachable)`);
    expect(healthcheck(c("server")).code).toBe(0);
    expect(podman(["logs", c("client")]).stderr).not.toContain(token.slice(4, 30));
    timings.push([
      "end to end (containers up to a failing healthcheck)",
      (performance.now() - started) / 1000,
    ]);
  }, 600_000);

  test("scripts/image.sh pushes both architectures to two registries; both pull back and run", async () => {
    const a = startRegistry("registry-a");
    const b = startRegistry("registry-b");
    setRegistries([a, b]);
    for (const address of [a, b])
      await until(
        `the registry on ${address}`,
        15_000,
        () => run(["curl", "-sf", `http://${address}/v2/`], { allowFail: true }).code === 0,
      );
    await timed("image.sh: push to two registries", () =>
      run(
        [
          "bash",
          join(REPO, "scripts/image.sh"),
          ...["--no-build", "--name", NAME, "--tag", TAG, "--tag", "latest"],
          ...["--push", `${a}/vpn-sentinel`, "--push", `${b}/mirror/vpn-sentinel`],
        ],
        { env: currentEnv() },
      ),
    );
    // pulled into empty storage, so nothing comes from the images built here
    const pullRoot = join(ROOT_DIR, "pulled");
    const pulled = (args: string[], opts = {}) =>
      podman(["--root", pullRoot, "--runroot", `${pullRoot}-run`, ...args], opts);
    try {
      await timed("pull back 4 images", () => {
        for (const repo of [`${a}/vpn-sentinel:${TAG}`, `${b}/mirror/vpn-sentinel:latest`]) {
          for (const arch of ["amd64", "arm64"]) {
            pulled(["pull", "--arch", arch, repo]);
            const [info] = JSON.parse(pulled(["image", "inspect", repo]).stdout) as {
              Architecture: string;
              Healthcheck?: { Test: string[] };
            }[];
            expect(info?.Architecture).toBe(arch);
            expect(info?.Healthcheck?.Test).toEqual(["CMD", "sentinel", "healthcheck"]);
            if (arch === "amd64")
              expect(
                pulled(["run", "--rm", "--pull", "never", "--network", "none", repo, "version"]).stdout,
              ).toContain(VERSION);
            else {
              const root = pulled(["image", "mount", repo]).stdout.trim();
              const v = run([
                "qemu-aarch64-static",
                "-L",
                root,
                join(root, "usr/local/bin/sentinel"),
                "version",
              ]);
              expect(v.stdout).toContain("linux-arm64");
              pulled(["image", "unmount", repo]);
            }
            pulled(["rmi", "--force", repo]);
          }
        }
      });
    } finally {
      pulled(["image", "umount", "--all", "--force"], { allowFail: true });
      pulled(["rm", "--all", "--force"], { allowFail: true });
      rmSync(pullRoot, { recursive: true, force: true });
      rmSync(`${pullRoot}-run`, { recursive: true, force: true });
    }
  }, 600_000);
});
