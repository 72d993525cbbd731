/**
 * Which store errors mean "the database cannot take writes right now" (a full, read-only or
 * failing disk; a PostgreSQL that is unreachable, restarting or too slow) or "the database file
 * is damaged" rather than a bug. Callers answer those with 503 + Retry-After so clients keep
 * the report and send it again; a 500 would say the server is broken. No engine import: both
 * engines' codes travel on the error object (`code`, and PostgreSQL's SQLSTATE in `errno`).
 */
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL|CORRUPT|NOTADB)(_|$)/;

/** Bun's own codes for a PostgreSQL connection that failed, closed or timed out. */
const PG_CONNECTION_CODES = new Set([
  "ERR_POSTGRES_CONNECTION_CLOSED",
  "ERR_POSTGRES_CONNECTION_REFUSED",
  "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ERR_POSTGRES_CONNECTION_FAILED",
  "ERR_POSTGRES_IDLE_TIMEOUT",
  "ERR_POSTGRES_LIFETIME_TIMEOUT",
]);

/** A report refused before it reached the database, which has more work queued than it can do soon. */
export class StoreOverloaded extends Error {
  readonly code = "ERR_SENTINEL_STORE_OVERLOADED";
}

/**
 * A report that was fine itself but shared a transaction (PostgreSQL's group commit) with one
 * that failed in a way only rolling back the whole batch undoes: nothing of it was stored.
 */
export class BatchAborted extends Error {
  readonly code = "ERR_SENTINEL_BATCH_ABORTED";
  constructor(cause: unknown) {
    super("another report of the same transaction failed", { cause });
  }
}

/** Node-style socket errors that can surface from a dropped connection. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);

const codeOf = (e: unknown) => {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
};

/** A damaged database file (a bad page, a header that is not SQLite's): it does not heal by waiting. */
export const isCorruption = (e: unknown) => /^SQLITE_(CORRUPT|NOTADB)(_|$)/.test(codeOf(e));

/** A short reason for a PostgreSQL SQLSTATE that means "try again later", else null. */
function postgresState(state: string): string | null {
  if (state.startsWith("08")) return "the connection to PostgreSQL failed";
  if (state === "57P01" || state === "57P02" || state === "57P03") return "PostgreSQL is restarting";
  if (state === "53100") return "PostgreSQL's disk is full";
  if (state.startsWith("53")) return "PostgreSQL is out of resources";
  if (state === "57014") return "the database is too slow (statement timeout)";
  if (state === "40001" || state === "40P01") return "the database is busy (conflicting writes)";
  if (state === "55P03") return "the database is busy (lock not available)";
  if (state === "25006") return "PostgreSQL is read-only (a standby?)";
  if (state.startsWith("58")) return "PostgreSQL's disk failed";
  return null;
}

/** A short reason when `e` is a storage failure, else null. */
export function storageFailure(e: unknown): string | null {
  const code = codeOf(e);
  const errno = typeof e === "object" && e !== null ? (e as { errno?: unknown }).errno : undefined;
  if (typeof errno === "string" && code.startsWith("ERR_POSTGRES_")) return postgresState(errno);
  if (PG_CONNECTION_CODES.has(code) || SOCKET_CODES.has(code)) return "the database is unreachable";
  if (code === "ERR_SENTINEL_STORE_OVERLOADED") return "the database is overloaded";
  if (code === "ERR_SENTINEL_BATCH_ABORTED") return "a report stored together with this one failed";
  if (!SQLITE_UNAVAILABLE.test(code)) return null;
  if (isCorruption(e)) return "the database file is damaged";
  if (code.startsWith("SQLITE_FULL")) return "the disk is full";
  if (code.startsWith("SQLITE_READONLY")) return "the data directory is read-only";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "the database is busy";
  return `the disk failed (${code})`;
}
