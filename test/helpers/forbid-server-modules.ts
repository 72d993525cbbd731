/**
 * Preload for test/client-imports.test.ts: loading any of the server's heavy dependencies
 * (Elysia, JSX, grammy) or the IP data fails loudly, so a client path that pulls them in cannot pass.
 */
import { plugin } from "bun";

plugin({
  name: "forbid-server-modules",
  setup(build) {
    const filter =
      /node_modules\/(elysia|@elysiajs|@kitajs|grammy|@grammyjs|mmdb-lib)\/|src\/server\/geo\/pack/;
    build.onLoad({ filter }, (args) => {
      throw new Error(`the client loaded a server-only module: ${args.path}`);
    });
  },
});
