/**
 * The dev sign-in issuer's endpoints: discovery, JWKS, demo users, tokens
 * (verified with jose against the served JWKS), CORS, and its key file.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevAuth, type DevAuth } from "../src/index";

let issuerA: DevAuth;

beforeAll(async () => {
  issuerA = await startDevAuth({ port: 0 });
});
afterAll(async () => {
  await issuerA.close();
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
    expect(users.map((u) => u.email)).toEqual(["ada@example.com", "grace@example.com", "alan@example.com", "sam@example.com"]);

    const res = await fetch(`${issuerA.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://localhost:5173" },
      body: JSON.stringify({ userId: "grace" }),
    });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const { token } = (await res.json()) as { token: string; expiresAt: number };
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(config.jwks_uri)), { issuer: issuerA.issuer, audience: "convex" });
    expect(payload).toMatchObject({ sub: "dev_grace", email: "grace@example.com" });

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
      const jwks = createRemoteJWKSet(new URL(`${second.issuer}/.well-known/jwks.json`));
      const reissued = await second.mintToken("alan");
      await expect(jwtVerify(reissued.token, jwks, { issuer: second.issuer, audience: "convex" })).resolves.toBeTruthy();
      await expect(jwtVerify(token, jwks, { audience: "convex" })).resolves.toBeTruthy();
      expect(token.split(".")[0]).toBe(reissued.token.split(".")[0]);
    } finally {
      await second.close();
    }
  });
});
