/**
 * Auth of the local stack: which issuers `convex/auth.config.ts` lists per
 * environment, the JWT verifier (issuer, audience, expiry, signature via
 * OpenID discovery + JWKS), and the dev sign-in issuer's endpoints.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startDevAuth, type DevAuth } from "../../scripts/dev-auth/index";
import { AuthVerifier, type AuthProvider } from "../../scripts/local-convex/auth";
import { importFresh } from "../../scripts/local-convex/modules";
import { startFixtureBackend } from "./fixtures/backend";

const AUTH_CONFIG = join(import.meta.dirname, "../../convex/auth.config.ts");

async function providersWith(env: Record<string, string | undefined>): Promise<AuthProvider[]> {
  for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
  const mod = await importFresh(AUTH_CONFIG);
  return (mod.default as { providers: AuthProvider[] }).providers;
}

const domains = (providers: AuthProvider[]) => providers.map((p) => ("domain" in p ? p.domain : p.issuer));

let issuerA: DevAuth;
let issuerB: DevAuth;

beforeAll(async () => {
  issuerA = await startDevAuth({ port: 0 });
  issuerB = await startDevAuth({ port: 0 });
});
afterAll(async () => {
  await issuerA.close();
  await issuerB.close();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe("convex/auth.config.ts", () => {
  it("never lists the dev issuer in a production-like environment", async () => {
    const clerk = "https://clerk.example.com";
    expect(await providersWith({ CLERK_JWT_ISSUER_DOMAIN: clerk, LOCAL_DEV_AUTH_ISSUER: undefined })).toEqual([
      { domain: clerk, applicationID: "convex" },
    ]);
    for (const notLoopback of ["https://dev-auth.example.com", "http://10.0.0.5:3212", "http://127.0.0.1.example.com", "not a url"]) {
      expect(domains(await providersWith({ CLERK_JWT_ISSUER_DOMAIN: clerk, LOCAL_DEV_AUTH_ISSUER: notLoopback }))).toEqual([clerk]);
    }
  });

  it("lists a loopback dev issuer with the convex application id", async () => {
    expect(await providersWith({ CLERK_JWT_ISSUER_DOMAIN: undefined, LOCAL_DEV_AUTH_ISSUER: issuerA.issuer })).toEqual([
      { domain: issuerA.issuer, applicationID: "convex" },
    ]);
  });

  it("fails loudly (so the push fails) when no issuer is set, or the Clerk issuer is not an https URL", async () => {
    await expect(providersWith({ CLERK_JWT_ISSUER_DOMAIN: undefined, LOCAL_DEV_AUTH_ISSUER: undefined })).rejects.toThrow(
      /CLERK_JWT_ISSUER_DOMAIN is not set on this deployment.*npx convex env set CLERK_JWT_ISSUER_DOMAIN/,
    );
    // A non-loopback dev issuer does not count as one: a cloud deployment still has nobody able to sign in.
    await expect(providersWith({ CLERK_JWT_ISSUER_DOMAIN: "", LOCAL_DEV_AUTH_ISSUER: "https://dev-auth.example.com" })).rejects.toThrow(
      /CLERK_JWT_ISSUER_DOMAIN is not set/,
    );
    await expect(providersWith({ CLERK_JWT_ISSUER_DOMAIN: "verb-noun-00.clerk.accounts.dev", LOCAL_DEV_AUTH_ISSUER: undefined })).rejects.toThrow(
      /must be the https URL/,
    );
  });
});

describe("JWT verification", () => {
  it("accepts a dev token from a configured issuer and maps its claims", async () => {
    const verifier = new AuthVerifier(await providersWith({ LOCAL_DEV_AUTH_ISSUER: issuerA.issuer, CLERK_JWT_ISSUER_DOMAIN: undefined }));
    const { token, expiresAt } = await issuerA.mintToken("ada");
    const { identity, expiresAt: verifiedExpiry } = await verifier.verify(token);
    expect(identity).toMatchObject({
      tokenIdentifier: `${issuerA.issuer}|dev_ada`,
      subject: "dev_ada",
      issuer: issuerA.issuer,
      name: "Ada Lovelace",
      email: "ada@example.com",
      emailVerified: true,
    });
    expect(verifiedExpiry).toBe(expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(10 * 60_000);
  });

  it("rejects a dev token when the dev issuer is not configured (production)", async () => {
    const verifier = new AuthVerifier(
      await providersWith({ CLERK_JWT_ISSUER_DOMAIN: "https://clerk.example.com", LOCAL_DEV_AUTH_ISSUER: undefined }),
    );
    const { token } = await issuerA.mintToken("ada");
    await expect(verifier.verify(token)).rejects.toThrow(/No auth provider found matching the given token/);
  });

  it("rejects wrong audience, expiry, a foreign signature, tampering and garbage", async () => {
    const verifier = new AuthVerifier([{ domain: issuerA.issuer, applicationID: "convex" }]);
    await expect(verifier.verify((await issuerA.mintToken("ada", { audience: "other-app" })).token)).rejects.toThrow(/No auth provider/);
    await expect(verifier.verify((await issuerA.mintToken("ada", { ttlSeconds: -60 })).token)).rejects.toThrow(/Token expired/);
    // Right issuer and audience, signed by another key.
    const forged = await issuerB.mintToken("ada", { issuer: issuerA.issuer });
    await expect(verifier.verify(forged.token)).rejects.toThrow(/Could not verify token/);
    // A payload edited after signing.
    const [header, payload, signature] = (await issuerA.mintToken("grace")).token.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...claims, sub: "dev_ada" })).toString("base64url");
    await expect(verifier.verify(`${header}.${edited}.${signature}`)).rejects.toThrow(/Could not verify token/);
    await expect(verifier.verify("not-a-jwt")).rejects.toThrow(/Could not parse JWT/);
  });

  it("ends in a signed-out client when the backend does not trust the dev issuer", async () => {
    // Production-like: Clerk only (convex/auth.config.ts refuses a deployment with no issuer at all).
    const backend = await startFixtureBackend({
      devAuth: false,
      env: { LOCAL_DEV_AUTH_ISSUER: "", CLERK_JWT_ISSUER_DOMAIN: "https://clerk.example.com" },
    });
    const client = new ConvexClient(backend.url, { unsavedChangesWarning: false, logger: false });
    try {
      const { token } = await issuerA.mintToken("ada");
      const outcome = await new Promise<boolean>((resolve) => client.setAuth(() => Promise.resolve(token), resolve));
      expect(outcome).toBe(false);
      const whoami = makeFunctionReference<"query", Record<string, never>, unknown>("messages:whoami");
      expect(await client.query(whoami, {})).toBeNull();
    } finally {
      await client.close();
      await backend.close();
    }
  });
});

describe("dev sign-in issuer", () => {
  it("serves discovery, JWKS, demo users and tokens", async () => {
    const config = (await (await fetch(`${issuerA.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    expect(config.issuer).toBe(issuerA.issuer);
    const jwks = (await (await fetch(config.jwks_uri)).json()) as { keys: { kty: string; alg: string; kid: string; d?: string }[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256" });
    expect(jwks.keys[0]!.d).toBeUndefined();

    const users = (await (await fetch(`${issuerA.issuer}/users`)).json()) as { id: string; email: string; name: string }[];
    expect(users.map((u) => u.email)).toEqual(["ada@example.com", "grace@example.com", "alan@example.com"]);

    const res = await fetch(`${issuerA.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://localhost:5173" },
      body: JSON.stringify({ userId: "grace" }),
    });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const { token } = (await res.json()) as { token: string; expiresAt: number };
    const { identity } = await new AuthVerifier([{ domain: issuerA.issuer, applicationID: "convex" }]).verify(token);
    expect(identity.subject).toBe("dev_grace");

    const unknown = await fetch(`${issuerA.issuer}/token`, { method: "POST", body: JSON.stringify({ userId: "mallory" }) });
    expect(unknown.status).toBe(404);
    const foreign = await fetch(`${issuerA.issuer}/users`, { headers: { origin: "https://evil.example.com" } });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("keeps its signing key in the key file across restarts", async () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), "dev-auth-")), "key.json");
    const first = await startDevAuth({ port: 0, keyFile });
    const { token } = await first.mintToken("alan");
    const firstJwks: unknown = await (await fetch(`${first.issuer}/.well-known/jwks.json`)).json();
    await first.close();
    const second = await startDevAuth({ port: 0, keyFile });
    try {
      expect(await (await fetch(`${second.issuer}/.well-known/jwks.json`)).json()).toEqual(firstJwks);
      // Same key, so a token from before the restart still verifies (issuer aside).
      const verifier = new AuthVerifier([{ domain: second.issuer, applicationID: "convex" }]);
      const reissued = await second.mintToken("alan");
      await expect(verifier.verify(reissued.token)).resolves.toBeTruthy();
      expect(token.split(".")[0]).toBe(reissued.token.split(".")[0]);
    } finally {
      await second.close();
    }
  });
});
