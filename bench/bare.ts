/**
 * The baseline: a bare Bun.serve endpoint that reads the request body and returns a constant
 * JSON body with 202, like POST /api/v1/reports does, but judging nothing and storing nothing.
 *
 *   bun bench/bare.ts PORT
 */
const body = JSON.stringify({
  accepted: true,
  server_time: "2026-11-26T10:00:00.000Z",
  next_report_in_s: 30,
});
Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2]),
  async fetch(req) {
    if (req.method === "POST") await req.text();
    return new Response(body, { status: 202, headers: { "content-type": "application/json" } });
  },
});
