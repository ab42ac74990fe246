/**
 * The local mailbox: a stand-in for Resend's HTTP API (the two endpoints
 * `@convex-dev/resend` and the `resend` SDK send with) that keeps every mail
 * in memory and shows them in the browser. The local backend sends
 * `https://api.resend.com` here (`fetchRedirects`), so the demo and the
 * browser tests see every email a journey triggers.
 *
 * | request | answer |
 * |---|---|
 * | `POST /emails` `{from, to, subject, html?, text?, …}` | `{ id }` |
 * | `POST /emails/batch` `[{…}, …]` | `{ data: [{ id }, …] }` |
 * | `GET /` | HTML list of the mails, newest first (auto-refreshes) |
 * | `GET /messages/<id>` | one mail: headers, the HTML part (sandboxed iframe) and the text part |
 * | `GET /api/messages?to=&subject=` | JSON `[{ id, receivedAt, from, to, subject, html, text, idempotencyKey }]`, newest first; `to` exact (case-insensitive), `subject` a substring |
 * | `DELETE /api/messages` | empties the mailbox |
 *
 * Like Resend: a `POST` needs `Authorization: Bearer <key>` (any key: 401
 * without), refuses a mail without `from`, `to` or `subject` (422), and a
 * repeated `Idempotency-Key` answers the first request's ids without storing
 * the mails again.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export type Mail = {
  id: string;
  /** When the mailbox received it (ms). */
  receivedAt: number;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  html: string | null;
  text: string | null;
  headers: Record<string, string>;
  idempotencyKey: string | null;
};

export type Mailbox = {
  /** `http://127.0.0.1:<port>`: redirect `https://api.resend.com` here, open it in a browser. */
  url: string;
  port: number;
  /** Mails received, newest first. */
  messages(): Mail[];
  clear(): void;
  close(): Promise<void>;
};

export type MailboxOptions = {
  /** Port on 127.0.0.1; 0 = any free port. Default 3213. */
  port?: number;
  /** Called for each stored mail (the CLI logs it). */
  onMail?: (mail: Mail) => void;
};

type Incoming = Record<string, unknown>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

function list(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const items: unknown[] = Array.isArray(value) ? value : [value];
  return items.filter((x): x is string => typeof x === "string");
}

function toMail(body: Incoming, idempotencyKey: string | null): Mail {
  const from = typeof body.from === "string" ? body.from : "";
  const to = list(body.to);
  const subject = typeof body.subject === "string" ? body.subject : "";
  if (!from) throw new HttpError(422, "missing_required_field", "The `from` field is missing.");
  if (to.length === 0) throw new HttpError(422, "missing_required_field", "The `to` field is missing.");
  if (!subject) throw new HttpError(422, "missing_required_field", "The `subject` field is missing.");
  const headers = body.headers && typeof body.headers === "object" ? (body.headers as Record<string, string>) : {};
  return {
    id: randomUUID(),
    receivedAt: Date.now(),
    from,
    to,
    cc: list(body.cc),
    bcc: list(body.bcc),
    subject,
    html: typeof body.html === "string" ? body.html : null,
    text: typeof body.text === "string" ? body.text : null,
    headers,
    idempotencyKey,
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new HttpError(422, "invalid_json", "The body is not JSON.");
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const text = type === "application/json" ? JSON.stringify(body) : String(body);
  res.writeHead(status, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" });
  res.end(text);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function page(title: string, body: string, refresh = false): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>${refresh ? '<meta http-equiv="refresh" content="3">' : ""}
<style>body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}
iframe{width:100%;height:480px;border:1px solid #ccc}pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}a{color:#2952cc}</style></head>
<body>${body}</body></html>`;
}

function listPage(mails: Mail[]): string {
  const rows = mails
    .map(
      (m) =>
        `<tr data-testid="mailbox-row"><td>${new Date(m.receivedAt).toISOString()}</td><td>${escapeHtml(m.to.join(", "))}</td><td><a href="/messages/${m.id}">${escapeHtml(m.subject)}</a></td><td>${escapeHtml(m.from)}</td></tr>`,
    )
    .join("");
  const table = mails.length
    ? `<table><thead><tr><th>Received (UTC)</th><th>To</th><th>Subject</th><th>From</th></tr></thead><tbody>${rows}</tbody></table>`
    : `<p data-testid="mailbox-empty">No mail yet. Emails the app sends offline land here.</p>`;
  return page("Local mailbox", `<h1>Local mailbox</h1><p>${mails.length} message(s), newest first. Refreshes every 3 s.</p>${table}`, true);
}

function messagePage(m: Mail): string {
  const html = m.html
    ? `<h2>HTML part</h2><iframe sandbox="" srcdoc="${escapeHtml(m.html)}" title="HTML part"></iframe>`
    : "<p>No HTML part.</p>";
  const text = m.text ? `<h2>Text part</h2><pre data-testid="mailbox-text">${escapeHtml(m.text)}</pre>` : "<p>No text part.</p>";
  return page(
    m.subject,
    `<p><a href="/">← all mail</a></p><h1 data-testid="mailbox-subject">${escapeHtml(m.subject)}</h1>
<p>From: ${escapeHtml(m.from)}<br>To: ${escapeHtml(m.to.join(", "))}<br>Received: ${new Date(m.receivedAt).toISOString()}</p>${html}${text}`,
  );
}

/** Starts the mailbox on 127.0.0.1. */
export async function startMailbox(options: MailboxOptions = {}): Promise<Mailbox> {
  const mails: Mail[] = [];
  const byIdempotencyKey = new Map<string, unknown>();

  const store = (mail: Mail): Mail => {
    mails.unshift(mail);
    options.onMail?.(mail);
    return mail;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    if (req.method === "POST" && (path === "/emails" || path === "/emails/batch")) {
      if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) throw new HttpError(401, "missing_api_key", "Missing API key in the authorization header.");
      const key = typeof req.headers["idempotency-key"] === "string" ? req.headers["idempotency-key"] : null;
      const idemKey = key ? `${path}|${key}` : null;
      const body = await readJson(req);
      if (idemKey && byIdempotencyKey.has(idemKey)) return send(res, 200, byIdempotencyKey.get(idemKey));
      let answer: unknown;
      if (path === "/emails") {
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(422, "validation_error", "Expected one email object.");
        answer = { id: store(toMail(body as Incoming, key)).id };
      } else {
        if (!Array.isArray(body)) throw new HttpError(422, "validation_error", "Expected an array of emails.");
        const parsed = body.map((b) => toMail(b as Incoming, key)); // validate all before storing any
        answer = { data: parsed.map((m) => ({ id: store(m).id })) };
      }
      if (idemKey) byIdempotencyKey.set(idemKey, answer);
      return send(res, 200, answer);
    }
    if (req.method === "GET" && path === "/api/messages") {
      const to = url.searchParams.get("to")?.toLowerCase();
      const subject = url.searchParams.get("subject");
      return send(
        res,
        200,
        mails.filter((m) => (!to || m.to.some((r) => r.toLowerCase() === to)) && (!subject || m.subject.includes(subject))),
      );
    }
    if (req.method === "DELETE" && path === "/api/messages") {
      mails.length = 0;
      byIdempotencyKey.clear();
      return send(res, 200, { ok: true });
    }
    if (req.method === "GET" && path === "/") return send(res, 200, listPage(mails), "text/html");
    const one = /^\/messages\/([\w-]+)$/.exec(path);
    if (req.method === "GET" && one) {
      const mail = mails.find((m) => m.id === one[1]);
      if (mail) return send(res, 200, messagePage(mail), "text/html");
    }
    throw new HttpError(404, "not_found", "Not found.");
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) send(res, e.status, { statusCode: e.status, name: e.name, message: e.message });
      else send(res, 500, { statusCode: 500, name: "internal_server_error", message: (e as Error).message });
    });
  });
  const port = await new Promise<number>((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 3213, "127.0.0.1", () => {
      const addr = server.address();
      ok(typeof addr === "object" && addr ? addr.port : (options.port ?? 3213));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    messages: () => [...mails],
    clear: () => {
      mails.length = 0;
      byIdempotencyKey.clear();
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
