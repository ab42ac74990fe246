/**
 * Outbound `fetch` redirects: functions that call a fixed third-party origin
 * (e.g. `@convex-dev/resend` posts to `https://api.resend.com/emails/batch`)
 * reach a local stand-in instead (the mailbox, `tools/mailbox`). Functions run
 * in this process, so the backend wraps `globalThis.fetch` once; each running
 * backend adds its redirects and removes them on close. Only the origin is
 * replaced: path, query, method, headers and body pass through.
 */
const redirects = new Map<string, string[]>();
let installed = false;

function originOf(url: string): string {
  return new URL(url).origin;
}

function install(): void {
  if (installed) return;
  installed = true;
  const original = globalThis.fetch;
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return original(input, init);
    }
    const targets = redirects.get(parsed.origin);
    const target = targets?.[targets.length - 1];
    if (!target) return original(input, init);
    const to = new URL(parsed.pathname + parsed.search, target).href;
    if (typeof input === "string" || input instanceof URL) return original(to, init);
    return original(new Request(to, input), init);
  };
}

/**
 * Sends requests for each `from` origin to its `to` origin until the returned
 * function is called. The latest registration for an origin wins.
 */
export function addFetchRedirects(map: Record<string, string>): () => void {
  const added: [string, string][] = Object.entries(map).map(([from, to]) => [originOf(from), originOf(to)]);
  if (added.length === 0) return () => undefined;
  install();
  for (const [from, to] of added) redirects.set(from, [...(redirects.get(from) ?? []), to]);
  return () => {
    for (const [from, to] of added) {
      const list = redirects.get(from) ?? [];
      const i = list.lastIndexOf(to);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) redirects.delete(from);
    }
  };
}
