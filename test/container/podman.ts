/**
 * Podman without a Docker daemon, the way this machine allows it (docs/STACK-NOTES): vfs
 * storage, runc (crun fails on cgroups hybrid mode and setrlimit), cgroupfs, no default ulimits,
 * events in a file (no journald). Everything lives under one root with our name in it, so a
 * run starts by removing what an earlier, interrupted run left, and never touches the
 * machine's own podman storage.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const PREFIX = "sentinel-oci";
export const ROOT_DIR = Bun.env.SENTINEL_OCI_ROOT ?? `/var/tmp/${PREFIX}`;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment every podman (and scripts/image.sh) call gets. */
export function podmanEnv(registries: string[] = []): Record<string, string> {
  const conf = join(ROOT_DIR, "conf");
  mkdirSync(conf, { recursive: true });
  writeFileSync(
    join(conf, "containers.conf"),
    [
      "[containers]",
      "default_ulimits = []",
      "[engine]",
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(conf, "storage.conf"),
    `[storage]\ndriver = "vfs"\ngraphroot = "${ROOT_DIR}/storage"\nrunroot = "${ROOT_DIR}/run"\n`,
  );
  // the local registries speak plain HTTP on loopback
  writeFileSync(
    join(conf, "registries.conf"),
    registries.map((r) => `[[registry]]\nlocation = "${r}"\ninsecure = true\n`).join("\n"),
  );
  return {
    PATH: Bun.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: Bun.env.HOME ?? "/root",
    CONTAINERS_CONF: join(conf, "containers.conf"),
    CONTAINERS_STORAGE_CONF: join(conf, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: join(conf, "registries.conf"),
  };
}

let env = podmanEnv();
export const setRegistries = (registries: string[]) => {
  env = podmanEnv(registries);
};
export const currentEnv = () => env;

/** Runs a command; throws with its output unless it exits 0 or `allowFail`. */
export function run(
  cmd: string[],
  opts: { allowFail?: boolean; env?: Record<string, string> } = {},
): RunResult {
  const p = Bun.spawnSync(cmd, { env: opts.env ?? env, stdout: "pipe", stderr: "pipe" });
  const r = { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  if (r.code !== 0 && !opts.allowFail)
    throw new Error(`${cmd.join(" ")} → exit ${r.code}\n${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/** podman's "unable to get systemd connection" lines are noise on a machine without systemd. */
const quiet = (text: string) =>
  text
    .split("\n")
    .filter((l) => !l.includes("systemd connection"))
    .join("\n");

export function podman(args: string[], opts: { allowFail?: boolean } = {}): RunResult {
  const r = run(["podman", ...args], { allowFail: true });
  const out = { ...r, stderr: quiet(r.stderr) };
  if (out.code !== 0 && !opts.allowFail)
    throw new Error(`podman ${args.join(" ")} → exit ${out.code}\n${out.stderr.trim() || out.stdout.trim()}`);
  return out;
}

/** `ip netns attach` names a container's network namespace, so `ip -n` can plumb it. */
export const netns = (name: string) => `${PREFIX}-${name}`;
export const ipIn = (ns: string, args: string) => run(["ip", "-n", netns(ns), ...args.split(/\s+/)]);

/** Removes our containers, volumes, secrets, namespaces and the storage root (throws rather than orphan a running container). */
export function wipe(): void {
  if (run(["sh", "-c", "command -v podman"], { allowFail: true }).code === 0) {
    podman(["image", "umount", "--all", "--force"], { allowFail: true });
    // `rm --all` stops at a container others joined (--network container:); go again until none
    // is left, and never wipe the storage under a running one: its processes would be orphaned
    for (let round = 0; podman(["ps", "--all", "--quiet"]).stdout.trim(); round++) {
      if (round === 5)
        throw new Error(`cannot remove the containers in ${ROOT_DIR}: ${podman(["ps", "--all"]).stdout}`);
      podman(["rm", "--all", "--force", "--time", "0"], { allowFail: true });
    }
    podman(["volume", "rm", "--all", "--force"], { allowFail: true });
    podman(["secret", "rm", "--all"], { allowFail: true });
  }
  for (const line of run(["ip", "netns", "list"], { allowFail: true }).stdout.split("\n")) {
    const name = line.split(/\s+/)[0] ?? "";
    if (name.startsWith(`${PREFIX}-`)) run(["ip", "netns", "delete", name], { allowFail: true });
  }
  rmSync(join(ROOT_DIR, "storage"), { recursive: true, force: true });
  rmSync(join(ROOT_DIR, "run"), { recursive: true, force: true });
}
