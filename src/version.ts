/** Build identity. scripts/build.ts replaces the SENTINEL_BUILD_* identifiers with --define. */
declare const SENTINEL_BUILD_VERSION: string | undefined;
declare const SENTINEL_BUILD_COMMIT: string | undefined;
declare const SENTINEL_BUILD_TARGET: string | undefined;

import pkg from "../package.json" with { type: "json" };

export const VERSION: string =
  typeof SENTINEL_BUILD_VERSION === "string" ? SENTINEL_BUILD_VERSION : pkg.version;
export const COMMIT: string = typeof SENTINEL_BUILD_COMMIT === "string" ? SENTINEL_BUILD_COMMIT : "dev";
export const TARGET: string =
  typeof SENTINEL_BUILD_TARGET === "string"
    ? SENTINEL_BUILD_TARGET
    : `source-${process.platform}-${process.arch}`;
