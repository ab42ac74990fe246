/**
 * The dev sign-in's organisations: Clerk-shaped org claims in tokens, the
 * demo organisation, creating organisations, roles and removal.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevAuth, type DevAuth, type DevUserOrg } from "../src/index";

let auth: DevAuth;

beforeAll(async () => {
  auth = await startDevAuth({ port: 0 });
});
afterAll(async () => {
  await auth.close();
});

async function call(method: string, path: string, body: unknown) {
  const res = await fetch(`${auth.issuer}${path}`, {
    method,
    headers: { "content-type": "application/json", origin: "http://127.0.0.1:5173" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, cors: res.headers.get("access-control-allow-origin") };
}

describe("dev sign-in organisations", () => {
  it("lists each user's organisations; the demo org has Ada as admin and Grace as member", async () => {
    const users = (await (await fetch(`${auth.issuer}/users`)).json()) as { id: string; organizations: DevUserOrg[] }[];
    const byId = Object.fromEntries(users.map((u) => [u.id, u.organizations]));
    expect(byId.ada).toEqual([{ id: "org_dev_acme", name: "Acme Inc", slug: "acme", role: "org:admin" }]);
    expect(byId.grace).toEqual([{ id: "org_dev_acme", name: "Acme Inc", slug: "acme", role: "org:member" }]);
    expect(byId.alan).toEqual([]);
  });

  it("issues the org claims of Clerk's convex JWT template for a member, 403 for anyone else", async () => {
    const ok = await call("POST", "/token", { userId: "grace", orgId: "org_dev_acme" });
    expect(ok.status).toBe(200);
    const jwks = createRemoteJWKSet(new URL(`${auth.issuer}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(ok.body.token as string, jwks, { issuer: auth.issuer, audience: "convex" });
    expect(payload).toMatchObject({ sub: "dev_grace", org_id: "org_dev_acme", org_role: "org:member", org_slug: "acme", org_name: "Acme Inc" });

    const personal = await call("POST", "/token", { userId: "grace" });
    expect(decodeJwt(personal.body.token as string).org_id).toBeUndefined();

    const outsider = await call("POST", "/token", { userId: "alan", orgId: "org_dev_acme" });
    expect(outsider.status).toBe(403);
    await expect(auth.mintToken("alan", { orgId: "org_dev_acme" })).rejects.toThrow(/not a member/);
  });

  it("creates organisations with the creator in the chosen role, changes roles and removes members", async () => {
    const created = await call("POST", "/orgs", { userId: "alan", name: "Turing Labs", role: "org:member" });
    expect(created.status).toBe(200);
    expect(created.cors).toBe("http://127.0.0.1:5173");
    expect(created.body).toEqual({ id: "org_dev_turing_labs", name: "Turing Labs", slug: "turing-labs", role: "org:member" });
    const again = await call("POST", "/orgs", { userId: "ada", name: "Turing Labs" });
    expect(again.body).toMatchObject({ slug: "turing-labs-2", role: "org:admin" });
    expect((await call("POST", "/orgs", { userId: "ada", name: " " })).status).toBe(400);

    expect((await call("PUT", "/memberships", { orgId: "org_dev_turing_labs", userId: "alan", role: "org:admin" })).status).toBe(200);
    expect(auth.orgsOf("alan").find((o) => o.id === "org_dev_turing_labs")?.role).toBe("org:admin");
    expect((await call("PUT", "/memberships", { orgId: "org_nope", userId: "alan", role: "org:admin" })).status).toBe(404);

    expect((await call("DELETE", "/memberships", { orgId: "org_dev_turing_labs", userId: "alan" })).status).toBe(200);
    expect(auth.orgsOf("alan").map((o) => o.id)).not.toContain("org_dev_turing_labs");
    expect((await call("POST", "/token", { userId: "alan", orgId: "org_dev_turing_labs" })).status).toBe(403);
  });
});
