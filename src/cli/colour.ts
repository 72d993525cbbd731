/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function wantsColour(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined> = Bun.env,
): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}
