/**
 * bun:sqlite is synchronous: each repository is written as plain functions (`Sync<Port>`,
 * derived from the async port, so the compiler checks the two agree) and the engine wraps them
 * into the port's async form with a runner that decides when a call may touch the connection.
 */

/** The synchronous form of a port interface. */
export type Sync<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never;
};

/** Runs a synchronous database call when the connection is free for it. */
export type Runner = <R>(call: () => R) => Promise<R>;

/** The port's async form of `impl`: every method goes through `run`. */
export function wrap<T extends object>(impl: Sync<T>, run: Runner): T {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(impl as Record<string, (...args: unknown[]) => unknown>))
    out[name] = (...args: unknown[]) => run(() => method(...args));
  return out as T;
}

/** A call that already happened, as a promise: a thrown error becomes a rejection. */
export function settle<R>(call: () => R): Promise<R> {
  try {
    return Promise.resolve(call());
  } catch (e) {
    return Promise.reject(e);
  }
}
