/**
 * Server-wide problems that make some verdicts impossible or some alerts undeliverable. Every
 * dashboard page shows them as banners and GET /api/v1/clients lists them, until they are fixed.
 * main.ts gathers them from their owners (home identity, ...), so each owner says its own words.
 */
export interface ServerWarning {
  /** stable, for scripts: "home_unknown", ... */
  code: string;
  /** one line: what is wrong and what it costs */
  title: string;
  /** why, and how to fix it */
  message: string;
  /** the dashboard page where it is fixed */
  href?: string;
}

/** The warnings that hold right now (called per page and per API list, so keep it cheap). */
export type ServerWarnings = () => Promise<ServerWarning[]>;
