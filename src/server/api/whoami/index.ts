import { Elysia } from "elysia";
import type { RateLimiter } from "../../auth/rate-limit.ts";
import { tooManyRequests } from "../../errors.ts";

/**
 * GET /api/v1/whoami → {"ip": "..."}: the address the server sees, so a server reachable
 * through the VPN is itself one of the client's IP echo providers. No auth; rate-limited per IP.
 */
export const whoamiApi = (limiter: RateLimiter, sourceIpOf: (request: Request) => string | null) =>
  new Elysia({ name: "api.whoami" }).get("/api/v1/whoami", ({ request, set }) => {
    const ip = sourceIpOf(request);
    const wait = limiter.take(ip ?? "unknown");
    if (wait > 0) throw tooManyRequests(wait);
    set.headers["cache-control"] = "no-store";
    return { ip };
  });
