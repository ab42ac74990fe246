/**
 * The local backend's JWT verifier (issuer, audience, expiry, signature via
 * OpenID discovery + JWKS) with tokens from the dev sign-in issuer, and a
 * client whose token the backend does not trust.
 */
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevAuth, type DevAuth } from "@offline/dev-auth";
import { AuthVerifier } from "../src/auth";
import { startFixtureBackend } from "./fixtures/backend";

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

describe("JWT verification", () => {
  it("accepts a token from a configured issuer and maps its claims", async () => {
    const verifier = new AuthVerifier([{ domain: issuerA.issuer, applicationID: "convex" }]);
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
    const backend = await startFixtureBackend({ devAuth: false, env: { LOCAL_DEV_AUTH_ISSUER: "" } });
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
