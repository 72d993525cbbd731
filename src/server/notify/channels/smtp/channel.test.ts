/**
 * Email against a real SMTP server (the `smtp-server` package) on loopback: STARTTLS with a
 * test CA, implicit TLS, AUTH, a 5xx that disables the channel and a 4xx that is retried.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";
import { deliver, EVERY_KIND, sample, urlChannel } from "../../../../../test/helpers/notify.ts";
import { tempDir } from "../../../../../test/helpers/server.ts";
import { selfSignedCert } from "../../../../../test/helpers/tls.ts";

interface Mail {
  raw: string;
  from: string;
  to: string[];
  user: string | undefined;
  secure: boolean;
}

const dir = tempDir();
let pem: { cert: string; key: string };
const servers: SMTPServer[] = [];

beforeAll(() => {
  const files = selfSignedCert(dir.path);
  pem = { cert: readFileSync(files.cert, "utf8"), key: readFileSync(files.key, "utf8") };
});
afterAll(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  dir.remove();
});

/** A real SMTP server; `reject` answers the next RCPT with that code. */
async function startSmtp(opts: Partial<SMTPServerOptions> & { reject?: { code: number }[] } = {}) {
  const mails: Mail[] = [];
  const rejects = opts.reject ?? [];
  const server = new SMTPServer({
    key: pem.key,
    cert: pem.cert,
    authOptional: true,
    disabledCommands: [],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === "alerts" && auth.password === "p@ss word") cb(null, { user: auth.username });
      else cb(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onRcptTo(_address, _session, cb) {
      const r = rejects.shift();
      if (r)
        cb(
          Object.assign(new Error(r.code >= 500 ? "Mailbox unavailable" : "Try again later"), {
            responseCode: r.code,
          }),
        );
      else cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      let raw = "";
      stream.on("data", (c: Buffer) => {
        raw += c.toString();
      });
      stream.on("end", () => {
        mails.push({
          raw,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          secure: session.secure,
        });
        cb();
      });
    },
    ...opts,
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.server.address() as { port: number }).port;
  return { mails, port };
}

const tls = () => ({ ca: pem.cert });

test("STARTTLS with the test CA and AUTH: one plain-text + HTML mail per alert, subject from the title", async () => {
  const smtp = await startSmtp();
  const channel = urlChannel(
    `smtp://alerts:p%40ss%20word@127.0.0.1:${smtp.port}/?from=sentinel@example.org&to=ops@example.org,me@example.org&starttls=required`,
    { tls: tls() },
  );
  expect(channel.name).toBe(
    `smtp://alerts:***@127.0.0.1:${smtp.port}/?from=sentinel@example.org&to=ops@example.org,me@example.org&starttls=required`,
  );
  await deliver(channel, sample("bypass.started"));
  const mail = smtp.mails[0] as Mail;
  expect(mail).toMatchObject({
    from: "sentinel@example.org",
    to: ["ops@example.org", "me@example.org"],
    user: "alerts",
    secure: true,
  });
  expect(mail.raw).toContain("multipart/alternative");
  expect(mail.raw).toContain("Content-Type: text/plain");
  expect(mail.raw).toContain("Content-Type: text/html");
  expect(mail.raw).toContain("Auto-Submitted: auto-generated");
  expect(mail.raw).toMatch(/^Subject: .+$/m);
  // the HTML part escapes the client's name
  expect(mail.raw.replace(/=\r?\n/g, "")).toContain("laptop &lt;b&gt;&amp;&lt;/b&gt;");
  for (const kind of EVERY_KIND) await deliver(channel, sample(kind));
  expect(smtp.mails).toHaveLength(EVERY_KIND.length + 1);
  await channel.stop?.();
}, 30_000); // a STARTTLS handshake per mail, one mail per kind: seconds on a busy machine

test("opportunistic STARTTLS upgrades when offered; implicit TLS (smtps) works", async () => {
  const plain = await startSmtp();
  const opportunistic = urlChannel(`smtp://127.0.0.1:${plain.port}/?from=a@example.org&to=b@example.org`, {
    tls: tls(),
  });
  await deliver(opportunistic, sample("client.offline"));
  expect(plain.mails[0]?.secure).toBe(true);
  const implicit = await startSmtp({ secure: true });
  const smtps = urlChannel(`smtps://127.0.0.1:${implicit.port}/?from=a@example.org&to=b@example.org`, {
    tls: tls(),
  });
  await deliver(smtps, sample("client.offline"));
  expect(implicit.mails[0]?.secure).toBe(true);
});

test("a server without STARTTLS is refused when it is required; bad credentials and 5xx disable, 4xx retries", async () => {
  const noTls = await startSmtp({ hideSTARTTLS: true, disabledCommands: ["STARTTLS"] });
  const required = urlChannel(
    `smtp://127.0.0.1:${noTls.port}/?from=a@example.org&to=b@example.org&starttls=required`,
    { tls: tls() },
  );
  const tlsErr = await deliver(required, sample("client.offline")).catch((e) => e);
  expect(required.classifyError(tlsErr)).toBe("disabled");
  expect(noTls.mails).toHaveLength(0);

  const smtp = await startSmtp({ reject: [{ code: 550 }, { code: 451 }] });
  const badAuth = urlChannel(
    `smtp://alerts:wrong@127.0.0.1:${smtp.port}/?from=a@example.org&to=b@example.org`,
    { tls: tls() },
  );
  const authErr = await deliver(badAuth, sample("client.offline")).catch((e) => e);
  expect(badAuth.classifyError(authErr)).toBe("disabled");
  expect(badAuth.describeError(authErr)).toStartWith("smtp 535");
  expect(badAuth.describeError(authErr)).not.toContain("wrong");

  const channel = urlChannel(`smtp://127.0.0.1:${smtp.port}/?from=a@example.org&to=b@example.org`, {
    tls: tls(),
  });
  const permanent = await deliver(channel, sample("client.offline")).catch((e) => e);
  expect(channel.classifyError(permanent)).toBe("disabled");
  expect(channel.describeError(permanent)).toStartWith("smtp 550");
  const transient = await deliver(channel, sample("client.offline")).catch((e) => e);
  expect(channel.classifyError(transient)).toBe("retryable");
  await deliver(channel, sample("client.offline"));
  expect(smtp.mails).toHaveLength(1);
});

test("URLs without from/to, with bad addresses or a bad starttls value are refused", async () => {
  const { checkNotifyUrl } = await import("../urls.ts");
  const err = (u: string) => (checkNotifyUrl(u) as { error?: string }).error;
  expect(err("smtp://u:secret@mail.example/?to=a@example.org")).toBe(
    "smtp://u:***@mail.example/?to=a@example.org: needs ?from=ADDRESS",
  );
  expect(err("smtp://mail.example/?from=a@example.org")).toContain("needs ?to=ADDRESS");
  expect(err("smtp://mail.example/?from=a@example.org&to=nobody")).toContain(
    "nobody is not an email address",
  );
  expect(err("smtp://mail.example/?from=a@example.org&to=b@example.org&starttls=maybe")).toContain(
    "?starttls=",
  );
});
