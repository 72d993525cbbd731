/**
 * The container test's stand-ins for the Internet and the VPN's resolver, compiled into one
 * executable (`bun build --compile`) and run in containers next to the sentinel images:
 *
 *   standins world              IP echo on :80 (answers the caller's address, like the lab's
 *                               echo) and who-is-asking DNS on :53 (the lab's answers), on
 *                               every address of the container's namespace
 *   standins resolver UPSTREAM  a DNS forwarder on :53, like gluetun's resolver: queries leave
 *                               the namespace by its current route, so UPSTREAM sees the exit
 *
 * They only ever answer inside the namespaces the test made (documentation addresses).
 */
import { createSocket } from "node:dgram";
import { type DnsHandler, startFakeDns } from "../fakes/dns.ts";

/** The lab's authoritative answer (test/lab/services.ts): the address that asked. */
const whoIsAsking: DnsHandler = (q) => {
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(q.from);
  if (q.type === "A") return v4 ? [q.from] : [];
  if (q.type === "AAAA") return v4 ? [] : [q.from];
  if (q.type === "TXT") return [q.from];
  return [];
};

async function world() {
  Bun.serve({
    hostname: "0.0.0.0",
    port: 80,
    fetch: (req, server) => new Response(`${server.requestIP(req)?.address ?? ""}\n`),
  });
  await startFakeDns({ host: "0.0.0.0", port: 53, handler: whoIsAsking });
}

function resolver(upstream: string) {
  const socket = createSocket("udp4");
  socket.on("message", (query, from) => {
    const up = createSocket("udp4");
    const giveUp = setTimeout(() => up.close(), 3000);
    up.on("message", (answer) => {
      clearTimeout(giveUp);
      up.close();
      socket.send(answer, from.port, from.address);
    });
    up.on("error", () => {
      clearTimeout(giveUp);
      up.close();
    });
    up.send(query, 53, upstream);
  });
  socket.bind(53, "0.0.0.0");
}

const [mode, arg] = process.argv.slice(2);
if (mode === "world") await world();
else if (mode === "resolver" && arg) resolver(arg);
else {
  console.error("usage: standins world | standins resolver UPSTREAM");
  process.exit(2);
}
console.log(`${mode} ready`);
