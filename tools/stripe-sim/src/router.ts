/** Minimal request routing over node:http, shared by the API, hosted pages and `/_sim`. */
import type { IncomingHttpHeaders } from "node:http";
import type { FormObject } from "./form.ts";

export type SimRequest = {
  method: string;
  path: string;
  url: URL;
  headers: IncomingHttpHeaders;
  /** Query string, bracket-decoded. */
  query: FormObject;
  /** Form body (bracket-decoded) for form posts; `{}` otherwise. */
  body: FormObject;
  /** JSON body for `/_sim` posts sent as JSON; `undefined` otherwise. */
  json: unknown;
  rawBody: string;
  params: Record<string, string>;
};

export type SimResponse = {
  status: number;
  headers?: Record<string, string>;
  body: string;
};

export type Handler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

type Route = { method: string; pattern: RegExp; keys: string[]; handler: Handler };

export class Router {
  private routes: Route[] = [];

  /** `path` may contain `:name` segments. */
  on(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const source = path
      .split("/")
      .map((seg) => {
        if (seg.startsWith(":")) {
          keys.push(seg.slice(1));
          return "([^/]+)";
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | "method_not_allowed" | null {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? "")));
      return { handler: r.handler, params };
    }
    return pathMatched ? "method_not_allowed" : null;
  }
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): SimResponse {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify(value, null, 2),
  };
}

export function html(status: number, body: string): SimResponse {
  return { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }, body };
}

/** 303 See Other: a form POST followed by a GET of `location`. */
export function redirect(location: string): SimResponse {
  return { status: 303, headers: { location }, body: "" };
}
