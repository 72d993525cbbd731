import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  defaultRoutesV4,
  defaultRoutesV6,
  describeChange,
  type RouteChange,
  RouteWatcher,
  resolvConfLines,
  routeSnapshot,
} from "./route-watch.ts";

const HEAD = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";
// Home line: default via 192.0.2.1 on eth0, and the LAN route.
const ROUTE_ISP = `${HEAD}
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
`;
// OpenVPN redirect-gateway def1: 0/1 and 128/1 through tun0 on top of the unchanged default.
const ROUTE_DEF1 = `${ROUTE_ISP}tun0\t00000000\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0
tun0\t00000080\t0100080A\t0003\t0\t0\t0\t00000080\t0\t0\t0
`;
const IPV6 = `00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000002 00000000 00000003     eth0
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

describe("route fingerprint", () => {
  test("IPv4 default routes, decoded from little-endian hex", () => {
    expect(defaultRoutesV4(ROUTE_ISP)).toEqual(["route4 0.0.0.0/0 dev eth0 via 192.0.2.1 metric 100"]);
  });

  test("def1 halves count as default routes", () => {
    expect(defaultRoutesV4(ROUTE_DEF1)).toEqual([
      "route4 0.0.0.0/0 dev eth0 via 192.0.2.1 metric 100",
      "route4 0.0.0.0/1 dev tun0 via 10.8.0.1 metric 0",
      "route4 128.0.0.0/1 dev tun0 via 10.8.0.1 metric 0",
    ]);
  });

  test("IPv6 default route; the kernel's reject route on lo is ignored", () => {
    expect(defaultRoutesV6(IPV6)).toEqual(["route6 ::/0 dev eth0 via 2001:db8::1 metric 1024"]);
  });

  test("resolv.conf: only lines that steer queries, comments ignored", () => {
    expect(resolvConfLines("# made by x\nnameserver 10.8.0.1 # vpn\nsearch  lan\n\n")).toEqual([
      "resolv nameserver 10.8.0.1",
      "resolv search lan",
    ]);
  });

  const base = {
    route: ROUTE_ISP,
    ipv6Route: IPV6,
    interfaces: { eth0: "up", lo: "unknown" },
    resolvConf: "nameserver 10.8.0.1\n",
  };

  test("counters and comments do not change the fingerprint", () => {
    const busier = ROUTE_ISP.replace("0003\t0\t0\t100", "0003\t7\t912\t100");
    const a = routeSnapshot(base);
    const b = routeSnapshot({ ...base, route: busier, resolvConf: "# regenerated\nnameserver 10.8.0.1\n" });
    expect(b.fingerprint).toBe(a.fingerprint);
  });

  test("default route, interface state and resolver changes do", () => {
    const a = routeSnapshot(base);
    const changes = [
      { ...base, route: ROUTE_DEF1 },
      { ...base, route: HEAD },
      { ...base, ipv6Route: "" },
      { ...base, interfaces: { ...base.interfaces, wg0: "unknown" } },
      { ...base, interfaces: { eth0: "down", lo: "unknown" } },
      { ...base, resolvConf: "nameserver 192.0.2.53\n" },
    ];
    const prints = changes.map((c) => routeSnapshot(c).fingerprint);
    for (const p of prints) expect(p).not.toBe(a.fingerprint);
    expect(new Set(prints).size).toBe(prints.length);
  });

  test("describeChange lists what went and came", () => {
    const a = routeSnapshot(base);
    const b = routeSnapshot({ ...base, resolvConf: "nameserver 192.0.2.53\n" });
    expect(describeChange(a, b)).toEqual(["- resolv nameserver 10.8.0.1", "+ resolv nameserver 192.0.2.53"]);
  });
});

describe("RouteWatcher on files", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function world() {
    dir = mkdtempSync(join(tmpdir(), "sentinel-routes-"));
    const paths = {
      route: join(dir, "route"),
      ipv6Route: join(dir, "ipv6_route"),
      sysClassNet: join(dir, "net"),
      resolvConf: join(dir, "resolv.conf"),
    };
    writeFileSync(paths.route, ROUTE_DEF1);
    writeFileSync(paths.ipv6Route, IPV6);
    writeFileSync(paths.resolvConf, "nameserver 10.8.0.1\n");
    for (const [n, s] of [
      ["eth0", "up"],
      ["tun0", "unknown"],
    ]) {
      mkdirSync(join(paths.sysClassNet, n as string), { recursive: true });
      writeFileSync(join(paths.sysClassNet, n as string, "operstate"), `${s}\n`);
    }
    return paths;
  }

  test("calls back once per change, with what changed", async () => {
    const paths = world();
    const seen: RouteChange[] = [];
    const w = new RouteWatcher({ intervalMs: 60_000, paths, onChange: (c) => seen.push(c) });
    await w.start();
    expect(await w.poll()).toBe(false);
    // The tunnel drops: its routes and its interface go away.
    writeFileSync(paths.route, ROUTE_ISP);
    rmSync(join(paths.sysClassNet, "tun0"), { recursive: true });
    expect(await w.poll()).toBe(true);
    expect(await w.poll()).toBe(false);
    w.stop();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.changes).toContain("- link tun0 unknown");
    expect(seen[0]?.changes).toContain("- route4 0.0.0.0/1 dev tun0 via 10.8.0.1 metric 0");
  });

  test("polls on its own timer", async () => {
    const paths = world();
    let calls = 0;
    const w = new RouteWatcher({ intervalMs: 20, paths, onChange: () => calls++ });
    await w.start();
    writeFileSync(paths.resolvConf, "nameserver 192.0.2.53\n");
    await Bun.sleep(120);
    w.stop();
    expect(calls).toBe(1);
  });

  test("missing files read as empty instead of failing (no IPv6, no resolv.conf)", async () => {
    const paths = world();
    const w = new RouteWatcher({
      intervalMs: 60_000,
      paths: { ...paths, ipv6Route: join(dir, "nope") },
      onChange: () => {},
    });
    await w.start();
    expect(w.snapshot?.lines.some((l) => l.startsWith("route6"))).toBe(false);
    w.stop();
  });
});
