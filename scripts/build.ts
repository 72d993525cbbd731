/**
 * `bun run build`: compiles `src/main.ts` into standalone executables for every release target
 * and writes dist/SHA256SUMS (sha256sum format) for them.
 *
 *   bun scripts/build.ts [--target x64|x64-baseline|arm64]... [--outdir DIR] [--no-bytecode]
 *
 * Flags: no identifier minification (it breaks Elysia handlers that
 * destructure with rest), no .env/bunfig.toml autoload in the binary (an agent must not pick up
 * files from its working directory), `--env=disable` so NODE_ENV is read at run time (the JS API's
 * `env: "disable"` still inlines NODE_ENV on Bun 1.4.5, so we spawn the CLI), and bytecode, which
 * cuts `sentinel version` start-up by more than half (measured numbers in the build report).
 * `--splitting` and a reluctant start-up JIT (JIT_POLICY) keep the idle client small.
 * The IP data is packed and compressed first (src/server/geo/pack.ts, cached in node_modules/.cache)
 * and embedded as a file, not as a module: nothing but the server ever reads it.
 *
 * Cross targets download the Bun runtime for that platform from the npm registry into Bun's
 * install cache on first use.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { compressedLayoutFile } from "../src/server/geo/pack.ts";

export const TARGETS = {
  x64: { bun: "bun-linux-x64", name: "linux-x64", arch: "x64" },
  "x64-baseline": { bun: "bun-linux-x64-baseline", name: "linux-x64-baseline", arch: "x64" },
  arm64: { bun: "bun-linux-arm64", name: "linux-arm64", arch: "arm64" },
} as const;
export type TargetKey = keyof typeof TARGETS;

const ROOT = resolve(import.meta.dir, "..");
/**
 * The binary starts with a JIT 1000 times more reluctant to compile (src/main.ts gives every
 * command but the client the normal one back): the agent wakes for a moment once a second, and
 * the optimizing tiers would buy it no useful speed for their compilers' code and output
 * (~3 MiB of its RSS).
 */
export const JIT_POLICY = 1000;
const ENTRY = join(ROOT, "src/main.ts");

interface BuildArgs {
  targets: TargetKey[];
  outdir: string;
  bytecode: boolean;
}

function parseArgs(argv: string[]): BuildArgs {
  const targets: TargetKey[] = [];
  let outdir = join(ROOT, "dist");
  let bytecode = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes("=")
      ? (arg.split(/=(.*)/s, 2) as [string, string])
      : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    if (flag === "--target") {
      const t = value();
      if (!(t in TARGETS))
        fail(`--target: unknown target "${t}" (one of ${Object.keys(TARGETS).join(", ")})`);
      if (!targets.includes(t as TargetKey)) targets.push(t as TargetKey);
    } else if (flag === "--outdir") outdir = resolve(value());
    else if (flag === "--no-bytecode") bytecode = false;
    else if (flag === "--help" || flag === "-h") {
      console.log(
        "usage: bun scripts/build.ts [--target x64|x64-baseline|arm64]... [--outdir DIR] [--no-bytecode]",
      );
      process.exit(0);
    } else fail(`unknown argument "${arg}"`);
  }
  return { targets: targets.length ? targets : (Object.keys(TARGETS) as TargetKey[]), outdir, bytecode };
}

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(2);
}

function gitCommit(): string {
  if (Bun.env.SENTINEL_BUILD_COMMIT) return Bun.env.SENTINEL_BUILD_COMMIT;
  const r = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT, stderr: "ignore" });
  return r.success ? r.stdout.toString().trim() : "unknown";
}

function packageVersion(): string {
  if (Bun.env.SENTINEL_BUILD_VERSION) return Bun.env.SENTINEL_BUILD_VERSION;
  return (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
}

export function buildCommand(
  target: TargetKey,
  outfile: string,
  ident: { version: string; commit: string },
  bytecode: boolean,
  ipData: string,
): string[] {
  const t = TARGETS[target];
  return [
    process.execPath,
    "build",
    "--compile",
    `--target=${t.bun}`,
    `--outfile=${outfile}`,
    "--minify-whitespace",
    "--minify-syntax",
    "--env=disable",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    ...(bytecode ? ["--bytecode", "--format=esm"] : []),
    // chunks per lazily imported command: the client never maps the server's code
    "--splitting",
    `--compile-jit-policy=${JIT_POLICY}`,
    "--define",
    `SENTINEL_BUILD_VERSION=${JSON.stringify(ident.version)}`,
    "--define",
    `SENTINEL_BUILD_COMMIT=${JSON.stringify(ident.commit)}`,
    "--define",
    `SENTINEL_BUILD_TARGET=${JSON.stringify(t.name)}`,
    ENTRY,
    // an extra entry point is embedded as a file (Bun.embeddedFiles); only the server reads it
    ipData,
  ];
}

async function buildOne(
  target: TargetKey,
  args: BuildArgs,
  ident: { version: string; commit: string },
  ipData: string,
) {
  const final = join(args.outdir, `sentinel-${TARGETS[target].name}`);
  // Build beside the final name and rename, so a failed build never leaves a half-written binary.
  const tmp = `${final}.tmp`;
  rmSync(tmp, { force: true });
  const started = performance.now();
  const proc = Bun.spawn(buildCommand(target, tmp, ident, args.bytecode, ipData), {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`build of ${target} failed (exit ${code}):\n${err || out}`);
  }
  renameSync(tmp, final);
  return { target, path: final, seconds: (performance.now() - started) / 1000 };
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The binary this machine can run directly prints its identity; catches a broken bundle early. */
function smokeTest(path: string, target: TargetKey) {
  if (TARGETS[target].arch !== process.arch || process.platform !== "linux") return;
  const r = Bun.spawnSync([path, "version"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: Bun.env.PATH ?? "" },
  });
  const out = r.stdout.toString().trim();
  if (!r.success || !out.includes(TARGETS[target].name)) {
    throw new Error(
      `${basename(path)} version failed (exit ${r.exitCode}): ${out} ${r.stderr.toString().trim()}`,
    );
  }
  console.log(`  ${basename(path)} version → ${out}`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ident = { version: packageVersion(), commit: gitCommit() };
  mkdirSync(args.outdir, { recursive: true });
  console.log(
    `building sentinel ${ident.version} (commit ${ident.commit}) for ${args.targets.join(", ")}` +
      `${args.bytecode ? " with bytecode" : ""} → ${args.outdir}`,
  );
  const ipData = await compressedLayoutFile();
  console.log(`  IP data: ${(statSync(ipData).size / 1048576).toFixed(1)} MiB compressed`);
  // Targets build in parallel: most of the time goes to bundling and writing ~100 MiB files.
  const results = await Promise.allSettled(args.targets.map((t) => buildOne(t, args, ident, ipData)));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  // The same bundling error fails every target; print each distinct message once.
  for (const m of new Set(
    failures.map((f) => (f.reason as Error).message.replace(/^build of \S+ /, "build ")),
  )) {
    console.error(`build: ${m}`);
  }
  if (failures.length) process.exit(1);

  const built = results.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof buildOne>>>).value);
  const sums: string[] = [];
  for (const b of built) {
    const mib = statSync(b.path).size / 1024 / 1024;
    console.log(`  ${basename(b.path)}  ${mib.toFixed(1)} MiB  ${b.seconds.toFixed(1)} s`);
    smokeTest(b.path, b.target);
    sums.push(`${sha256File(b.path)}  ${basename(b.path)}`);
  }
  writeFileSync(join(args.outdir, "SHA256SUMS"), `${sums.join("\n")}\n`);
  console.log(`  SHA256SUMS (${sums.length} files)`);
}

if (import.meta.main) await main();
