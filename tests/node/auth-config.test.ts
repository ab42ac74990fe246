/**
 * The app's `convex/auth.config.ts` with the offline stack: which issuers it
 * lists per environment, and whether the local backend's verifier accepts a
 * dev sign-in token under it. The verifier and the issuer have their own
 * tests in tools/local-backend and tools/dev-auth.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startDevAuth, type DevAuth } from "@offline/dev-auth";
import { AuthVerifier, importFresh, type AuthProvider } from "@offline/local-backend";

const AUTH_CONFIG = join(import.meta.dirname, "../../convex/auth.config.ts");

async function providersWith(env: Record<string, string | undefined>): Promise<AuthProvider[]> {
  for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
  const mod = await importFresh(AUTH_CONFIG);
  return (mod.default as { providers: AuthProvider[] }).providers;
}

const domains = (providers: AuthProvider[]) => providers.map((p) => ("domain" in p ? p.domain : p.issuer));

let issuerA: DevAuth;

beforeAll(async () => {
  issuerA = await startDevAuth({ port: 0 });
});
afterAll(async () => {
  await issuerA.close();
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
});
