/** Options shared by `sentinel server` and the commands that work on its data dir. */
import { hostname } from "node:os";
import type { OptionSpecs } from "../config/options.ts";

/** Where the server's data is: the data dir, or a PostgreSQL database plus a key file. */
export const dataDirSpecs = {
  dataDir: {
    kind: "string",
    description: "Directory for the database and the server key",
    default: "./data",
    valueHint: "DIR",
  },
  database: {
    kind: "string",
    description:
      "PostgreSQL URL (postgres://user:pass@host:5432/db?sslmode=require) shared by several servers; default: SQLite in --data-dir",
    valueHint: "URL",
    secret: true, // the URL may carry a password
    check: (v: string) =>
      /^postgres(ql)?:\/\/./i.test(v) ? undefined : "must be a postgres:// or postgresql:// URL",
  },
  serverKeyFile: {
    kind: "string",
    description:
      "The server key (seals client secrets); must exist; default: server.key in --data-dir (created on first start)",
    valueHint: "FILE",
  },
} satisfies OptionSpecs;

/** Only `sentinel server` tunes its connections. */
export const databaseTuningSpecs = {
  databasePoolSize: {
    kind: "int",
    description: "PostgreSQL: connections in this server's pool (two more: change feed, leader lock)",
    default: 10,
    check: (v: number) => (v >= 1 && v <= 1000 ? undefined : "must be 1 to 1000"),
  },
  databaseStatementTimeout: {
    kind: "duration",
    description: "PostgreSQL: a statement running longer is cancelled, and a report waiting on it gets 503",
    default: "5s",
    check: (v: number) => (v >= 100 ? undefined : "must be at least 100ms"),
  },
} satisfies OptionSpecs;

export const publicUrlSpecs = {
  publicUrl: {
    kind: "string",
    description:
      "URL clients and people use to reach this server (enrollment commands, alert links); default http://<hostname>:8088",
    valueHint: "URL",
    check: (v: string) => (/^https?:\/\/[^\s/]+/.test(v) ? undefined : "must be an http:// or https:// URL"),
  },
} satisfies OptionSpecs;

export const defaultPublicUrl = () => `http://${hostname()}:8088`;

export interface ListenAddress {
  hostname: string;
  port: number;
}

/** "0.0.0.0:8088", "[::]:8088", ":8088" or "8088". */
export function parseListen(text: string): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}
