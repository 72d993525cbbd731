/**
 * Which store errors mean "the disk cannot take writes right now" (full, read-only, failing)
 * rather than a bug. Callers answer those with 503 + Retry-After so clients keep the report
 * and send it again; a 500 would say the server is broken. No bun:sqlite import: SQLite's
 * error codes travel on the error object as `code`.
 */
const UNAVAILABLE = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL)(_|$)/;

/** A short reason when `e` is a storage failure, else null. */
export function storageFailure(e: unknown): string | null {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof code !== "string" || !UNAVAILABLE.test(code)) return null;
  if (code.startsWith("SQLITE_FULL")) return "the disk is full";
  if (code.startsWith("SQLITE_READONLY")) return "the data directory is read-only";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "the database is busy";
  return `the disk failed (${code})`;
}
