import { Elysia } from "elysia";
import { CLIENT_ID_PATTERN } from "../../../protocol/signing.ts";
import type { RateLimiter } from "../../auth/rate-limit.ts";
import type { DnsOracle } from "../../dns/oracle.ts";
import { ApiError, tooManyRequests } from "../../errors.ts";

/**
 * GET /api/v1/whoami → {"ip": "..."}: the address the server sees, so a server reachable
 * through the VPN is itself one of the client's IP echo providers. No auth; rate-limited per IP.
 * With a DNS oracle (--dns-zone) it names the zone, and `?client=ID` gets that client fresh
 * labels for its first round (later ones come in each 202 answer). Labels need no credential:
 * one counts only in a signed report of the client it was minted for, which resolved it itself.
 */
export const whoamiApi = (
  limiter: RateLimiter,
  sourceIpOf: (request: Request) => string | null,
  oracle?: DnsOracle,
  now: () => number = Date.now,
) =>
  new Elysia({ name: "api.whoami" }).get("/api/v1/whoami", ({ request, set, query }) => {
    const ip = sourceIpOf(request);
    const wait = limiter.take(ip ?? "unknown");
    if (wait > 0) throw tooManyRequests(wait);
    set.headers["cache-control"] = "no-store";
    const client = query.client;
    if (client !== undefined && (typeof client !== "string" || !CLIENT_ID_PATTERN.test(client)))
      throw new ApiError(400, "validation_failed", "client must be a client id", [
        { path: "/client", message: "must match [A-Za-z0-9_-]{1,64}" },
      ]);
    if (!oracle) return { ip };
    return { ip, dns_oracle: client ? oracle.grant(client, now()) : { zone: oracle.zone } };
  });
