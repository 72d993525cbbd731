import { defineCommand } from "citty";
import { COMMIT, TARGET, VERSION } from "../version.ts";

export default defineCommand({
  meta: { name: "version", description: "Print version, commit and build target" },
  args: { json: { type: "boolean", description: "Print JSON" } },
  run({ args }) {
    if (args.json)
      console.log(JSON.stringify({ version: VERSION, commit: COMMIT, target: TARGET, bun: Bun.version }));
    else console.log(`sentinel ${VERSION} (commit ${COMMIT}, ${TARGET}, bun ${Bun.version})`);
  },
});
