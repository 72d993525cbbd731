/**
 * The logger type every module takes (consola's instance). Here, low in the tree, so the
 * server and the agent need not import the CLI to name it; src/cli/common.ts builds one.
 */
export type { ConsolaInstance as Logger } from "consola";
