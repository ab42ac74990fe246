/**
 * Client for the local dev token issuer (no Clerk keys). It serves:
 * - `GET  /users`            → `[{ id, name, email }]`
 * - `POST /token { userId }` → `{ token, expiresAt }` (a JWT Convex accepts; expiresAt in ms)
 * Convex verifies the JWT against the issuer's JWKS (convex/auth.config.ts,
 * `LOCAL_DEV_AUTH_ISSUER`), so this is real token auth, just with a local issuer.
 */
export type DevUser = { id: string; name: string; email: string };
export type DevToken = { token: string; expiresAt: number };

const STORAGE_KEY = "devAuth.user";

function isDevUser(value: unknown): value is DevUser {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === "string" && typeof v.name === "string" && typeof v.email === "string";
}

export async function fetchDevUsers(baseUrl: string, signal?: AbortSignal): Promise<DevUser[]> {
  const response = await fetch(`${baseUrl}/users`, { signal });
  if (!response.ok) throw new Error(`Dev auth server answered ${response.status}`);
  const body: unknown = await response.json();
  if (!Array.isArray(body)) throw new Error("Dev auth server returned an unexpected user list");
  return body.filter(isDevUser);
}

export async function fetchDevToken(baseUrl: string, userId: string): Promise<DevToken> {
  const response = await fetch(`${baseUrl}/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId }),
  });
  if (!response.ok) throw new Error(`Dev auth server answered ${response.status}`);
  const body = (await response.json()) as Partial<DevToken>;
  if (typeof body.token !== "string" || typeof body.expiresAt !== "number") {
    throw new Error("Dev auth server returned an unexpected token");
  }
  return { token: body.token, expiresAt: body.expiresAt };
}

/** Refresh this long before expiry so a token never expires in flight. */
export const TOKEN_EXPIRY_MARGIN_MS = 30_000;

/**
 * Caches one token per user and refetches when forced, expired (within the
 * margin), or the user changed. Concurrent calls share one request.
 */
export class DevTokenCache {
  private cached: (DevToken & { userId: string }) | null = null;
  private inflight: { userId: string; promise: Promise<DevToken> } | null = null;
  /** Bumped by clear() so a request started before sign-out cannot repopulate the cache. */
  private generation = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  async get(userId: string, forceRefresh: boolean): Promise<string> {
    const c = this.cached;
    if (!forceRefresh && c && c.userId === userId && c.expiresAt - TOKEN_EXPIRY_MARGIN_MS > this.now()) {
      return c.token;
    }
    if (!this.inflight || this.inflight.userId !== userId) {
      const promise = fetchDevToken(this.baseUrl, userId);
      const generation = this.generation;
      this.inflight = { userId, promise };
      promise.then(
        (t) => {
          if (this.inflight?.promise === promise) this.inflight = null;
          if (generation === this.generation) this.cached = { ...t, userId };
        },
        () => {
          if (this.inflight?.promise === promise) this.inflight = null;
        },
      );
    }
    return (await this.inflight.promise).token;
  }

  clear(): void {
    this.generation += 1;
    this.cached = null;
    this.inflight = null;
  }
}

/** The remembered demo user (localStorage), or null. */
export function readStoredDevUser(): { id: string; name: string } | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const value: unknown = JSON.parse(raw);
    if (typeof value === "object" && value !== null) {
      const v = value as Record<string, unknown>;
      if (typeof v.id === "string" && typeof v.name === "string") return { id: v.id, name: v.name };
    }
    return null;
  } catch {
    return null;
  }
}

export function storeDevUser(user: { id: string; name: string } | null): void {
  try {
    if (user) localStorage.setItem(STORAGE_KEY, JSON.stringify({ id: user.id, name: user.name }));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Without storage the choice lasts for this page only.
  }
}
