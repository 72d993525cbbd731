/** Runs the real CLI from source as a child process. */
export async function sentinel(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
) {
  const proc = Bun.spawn(["bun", `${import.meta.dir}/../../src/main.ts`, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...opts.env },
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}
