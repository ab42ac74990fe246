/**
 * JWT verification as a Convex deployment does it for the providers in
 * `convex/auth.config.ts` (https://docs.convex.dev/auth/advanced/custom-auth):
 *
 * - OIDC providers `{ domain, applicationID }`: the token's `iss` must equal
 *   `domain`, its `aud` must contain `applicationID`, it must not be expired,
 *   and its RS256/ES256 signature must verify against the JWKS found through
 *   `${domain}/.well-known/openid-configuration` → `jwks_uri`.
 * - Custom JWT providers `{ type: "customJwt", issuer, jwks, algorithm, applicationID? }`:
 *   the same checks against the given `jwks` URL.
 *
 * The resulting identity follows Convex's claim mapping: `tokenIdentifier` is
 * `${iss}|${sub}`, standard OIDC claims become camelCase fields (`email`,
 * `name`, `pictureUrl`, …) and other claims are passed through as they are.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from "jose";
import type { UserIdentity } from "convex/server";

export type OidcProvider = { domain: string; applicationID: string };
export type CustomJwtProvider = {
  type: "customJwt";
  issuer: string;
  jwks: string;
  algorithm: "RS256" | "ES256";
  applicationID?: string;
};
export type AuthProvider = OidcProvider | CustomJwtProvider;

/** A token the deployment would refuse; `message` goes to the client's `AuthError`. */
export class AuthFailure extends Error {
  override name = "AuthFailure";
}

const REGISTERED = new Set(["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]);
const CLAIM_MAP: Record<string, keyof UserIdentity> = {
  name: "name",
  given_name: "givenName",
  family_name: "familyName",
  nickname: "nickname",
  preferred_username: "preferredUsername",
  profile: "profileUrl",
  picture: "pictureUrl",
  email: "email",
  email_verified: "emailVerified",
  gender: "gender",
  birthdate: "birthday",
  zoneinfo: "timezone",
  locale: "language",
  phone_number: "phoneNumber",
  phone_number_verified: "phoneNumberVerified",
  address: "address",
  updated_at: "updatedAt",
};

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

/** Maps verified claims to the `UserIdentity` functions see through `ctx.auth`. */
export function identityFromClaims(claims: JWTPayload): UserIdentity {
  const issuer = claims.iss!;
  const subject = claims.sub!;
  const identity: Record<string, unknown> = { tokenIdentifier: `${issuer}|${subject}`, subject, issuer };
  for (const [claim, value] of Object.entries(claims)) {
    if (REGISTERED.has(claim) || value === undefined) continue;
    const field = CLAIM_MAP[claim];
    if (field === "updatedAt" && typeof value === "number") identity[field] = new Date(value * 1000).toISOString();
    else if (field === "address" && typeof value === "object") identity[field] = JSON.stringify(value);
    else identity[field ?? claim] = value;
  }
  return identity as UserIdentity;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

export class AuthVerifier {
  private readonly keySets = new Map<string, Promise<KeySet>>();

  constructor(readonly providers: AuthProvider[]) {}

  /** Reads `providers` from the default export of an evaluated `auth.config.ts`. */
  static fromConfigModule(mod: Record<string, unknown> | null): AuthVerifier {
    const config = (mod?.default ?? { providers: [] }) as { providers?: AuthProvider[] };
    return new AuthVerifier(config.providers ?? []);
  }

  private issuerOf(p: AuthProvider): string {
    return trimSlash("type" in p ? p.issuer : p.domain);
  }

  private keySet(p: AuthProvider): Promise<KeySet> {
    const key = "type" in p ? `jwks:${p.jwks}` : `oidc:${trimSlash(p.domain)}`;
    let found = this.keySets.get(key);
    if (!found) {
      found = (async () => {
        if ("type" in p) return createRemoteJWKSet(new URL(p.jwks));
        const discovery = `${trimSlash(p.domain)}/.well-known/openid-configuration`;
        let jwksUri: unknown;
        try {
          const res = await fetch(discovery);
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          jwksUri = ((await res.json()) as { jwks_uri?: unknown }).jwks_uri;
        } catch (e) {
          throw new AuthFailure(`Could not fetch OpenID configuration from ${discovery}: ${(e as Error).message}`);
        }
        if (typeof jwksUri !== "string") throw new AuthFailure(`${discovery} has no jwks_uri`);
        return createRemoteJWKSet(new URL(jwksUri));
      })();
      // A failed discovery is retried on the next token instead of cached.
      found.catch(() => this.keySets.delete(key));
      this.keySets.set(key, found);
    }
    return found;
  }

  /**
   * Verifies `token` and returns the caller's identity with the token's expiry
   * (ms since the epoch, or null without `exp`). Throws `AuthFailure`.
   */
  async verify(token: string): Promise<{ identity: UserIdentity; expiresAt: number | null }> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new AuthFailure("Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts.");
    }
    const iss = typeof unverified.iss === "string" ? trimSlash(unverified.iss) : undefined;
    const audiences = Array.isArray(unverified.aud) ? unverified.aud : unverified.aud ? [unverified.aud] : [];
    const candidates = this.providers.filter(
      (p) => this.issuerOf(p) === iss && (p.applicationID === undefined || audiences.includes(p.applicationID)),
    );
    if (candidates.length === 0) {
      const configured = this.providers.map((p) => `${this.issuerOf(p)} (aud ${p.applicationID ?? "any"})`).join(", ");
      throw new AuthFailure(
        `No auth provider found matching the given token (iss: ${String(unverified.iss)}, aud: ${audiences.join(",") || "none"}). ` +
          `Check that your JWT's issuer and audience match one of your configured providers: [${configured}]`,
      );
    }
    let lastError: unknown;
    for (const provider of candidates) {
      try {
        const { payload } = await jwtVerify(token, await this.keySet(provider), {
          issuer: unverified.iss,
          audience: provider.applicationID,
          algorithms: "type" in provider ? [provider.algorithm] : ["RS256", "ES256"],
        });
        if (typeof payload.sub !== "string" || payload.sub === "") throw new AuthFailure("Token is missing the `sub` claim");
        return {
          identity: identityFromClaims(payload),
          expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : null,
        };
      } catch (e) {
        lastError = e;
      }
    }
    if (lastError instanceof AuthFailure) throw lastError;
    const code = (lastError as { code?: string }).code;
    if (code === "ERR_JWT_EXPIRED") throw new AuthFailure("Token expired");
    throw new AuthFailure(`Could not verify token: ${(lastError as Error).message}`);
  }
}
