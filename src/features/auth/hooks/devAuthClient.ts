/**
 * Client for the local dev token issuer (no Clerk keys). It serves:
 * - `GET  /users`            → `[{ id, name, email, organizations: [{ id, name, slug, role }] }]`
 * - `POST /token { userId, orgId? }` → `{ token, expiresAt }` (a JWT Convex accepts; expiresAt in ms);
 *   with `orgId` the token carries Clerk's org claims (`org_id`, `org_role`, …); 403 for a non-member
 * - `POST /orgs { userId, name, role }` → the new organisation, the user its first member
 * Convex verifies the JWT against the issuer's JWKS (convex/auth.config.ts,
 * `LOCAL_DEV_AUTH_ISSUER`), so this is real token auth, just with a local issuer.
 */
export type DevOrgRole = "org:admin" | "org:member";
/** One of a dev user's organisations, with their role in it. */
export type DevUserOrg = { id: string; name: string; slug: string; role: DevOrgRole };
export type DevUser = { id: string; name: string; email: string; organizations?: DevUserOrg[] };
export type DevToken = { token: string; expiresAt: number };

/** The issuer refused a token for an organisation the user is not a member of (HTTP 403). */
export class NotAMemberError extends Error {
  override name = "NotAMemberError";
}

function isDevUserOrg(value: unknown): value is DevUserOrg {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === "string" && typeof v.name === "string" && (v.role === "org:admin" || v.role === "org:member");
}

/** The organisations `user` belongs to, as `GET /users` listed them (none when the issuer predates organisations). */
export function orgsOfDevUser(user: DevUser | undefined): DevUserOrg[] {
  return Array.isArray(user?.organizations) ? user.organizations.filter(isDevUserOrg) : [];
}

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

export async function fetchDevToken(baseUrl: string, userId: string, orgId: string | null = null): Promise<DevToken> {
  const response = await fetch(`${baseUrl}/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(orgId ? { userId, orgId } : { userId }),
  });
  if (response.status === 403) throw new NotAMemberError(`${userId} is not a member of ${orgId}`);
  if (!response.ok) throw new Error(`Dev auth server answered ${response.status}`);
  const body = (await response.json()) as Partial<DevToken>;
  if (typeof body.token !== "string" || typeof body.expiresAt !== "number") {
    throw new Error("Dev auth server returned an unexpected token");
  }
  return { token: body.token, expiresAt: body.expiresAt };
}

/** Creates an organisation on the dev issuer with `userId` as its first member in `role`. */
export async function createDevOrg(baseUrl: string, userId: string, name: string, role: DevOrgRole): Promise<DevUserOrg> {
  const response = await fetch(`${baseUrl}/orgs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId, name, role }),
  });
  if (!response.ok) throw new Error(`Dev auth server answered ${response.status}`);
  const body: unknown = await response.json();
  if (!isDevUserOrg(body)) throw new Error("Dev auth server returned an unexpected organisation");
  return body;
}

/** Refresh this long before expiry so a token never expires in flight. */
export const TOKEN_EXPIRY_MARGIN_MS = 30_000;

/**
 * Caches one token per user and refetches when forced, expired (within the
 * margin), or the user changed. Concurrent calls share one request.
 */
export class DevTokenCache {
  private cached: (DevToken & { key: string }) | null = null;
  private inflight: { key: string; promise: Promise<DevToken> } | null = null;
  /** Bumped by clear() so a request started before sign-out cannot repopulate the cache. */
  private generation = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token for `userId`, acting in organisation `orgId` (null: the personal account). */
  async get(userId: string, forceRefresh: boolean, orgId: string | null = null): Promise<string> {
    const key = `${userId}|${orgId ?? ""}`;
    const c = this.cached;
    if (!forceRefresh && c && c.key === key && c.expiresAt - TOKEN_EXPIRY_MARGIN_MS > this.now()) {
      return c.token;
    }
    if (!this.inflight || this.inflight.key !== key) {
      const promise = fetchDevToken(this.baseUrl, userId, orgId);
      const generation = this.generation;
      this.inflight = { key, promise };
      promise.then(
        (t) => {
          if (this.inflight?.promise === promise) this.inflight = null;
          if (generation === this.generation) this.cached = { ...t, key };
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

const ORG_STORAGE_KEY = "devAuth.org";

/** The remembered active organisation of dev user `userId` (localStorage), or null for the personal account. */
export function readStoredDevOrg(userId: string | null): string | null {
  if (!userId) return null;
  try {
    const raw = localStorage.getItem(ORG_STORAGE_KEY);
    const value: unknown = raw ? JSON.parse(raw) : null;
    if (typeof value === "object" && value !== null) {
      const v = value as Record<string, unknown>;
      if (v.userId === userId && typeof v.orgId === "string") return v.orgId;
    }
    return null;
  } catch {
    return null;
  }
}

export function storeDevOrg(userId: string, orgId: string | null): void {
  try {
    if (orgId) localStorage.setItem(ORG_STORAGE_KEY, JSON.stringify({ userId, orgId }));
    else localStorage.removeItem(ORG_STORAGE_KEY);
  } catch {
    // Without storage the choice lasts for this page only.
  }
}
