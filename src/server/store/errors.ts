/**
 * Which store errors mean "the disk cannot take writes right now" (full, read-only, failing)
 * or "the database file is damaged" rather than a bug. Callers answer those with 503 +
 * Retry-After so clients keep the report and send it again; a 500 would say the server is
 * broken. No bun:sqlite import: SQLite's error codes travel on the error object as `code`.
 */
const UNAVAILABLE = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL|CORRUPT|NOTADB)(_|$)/;

const codeOf = (e: unknown) => {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
};

/** A damaged database file (a bad page, a header that is not SQLite's): it does not heal by waiting. */
export const isCorruption = (e: unknown) => /^SQLITE_(CORRUPT|NOTADB)(_|$)/.test(codeOf(e));

/** A short reason when `e` is a storage failure, else null. */
export function storageFailure(e: unknown): string | null {
  const code = codeOf(e);
  if (!UNAVAILABLE.test(code)) return null;
  if (isCorruption(e)) return "the database file is damaged";
  if (code.startsWith("SQLITE_FULL")) return "the disk is full";
  if (code.startsWith("SQLITE_READONLY")) return "the data directory is read-only";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "the database is busy";
  return `the disk failed (${code})`;
}
