/** Options shared by `sentinel server` and the commands that work on its data dir. */
import { hostname } from "node:os";
import type { OptionSpecs } from "../config/options.ts";

export const dataDirSpecs = {
  dataDir: {
    kind: "string",
    description: "Directory for the database and the server key",
    default: "./data",
    valueHint: "DIR",
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
