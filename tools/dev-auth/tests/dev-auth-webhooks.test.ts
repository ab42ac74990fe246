/**
 * The dev sign-in's Clerk webhooks: membership changes through its routes
 * reach the configured endpoint as Clerk sends them, signed with the svix
 * scheme; nothing is sent without an endpoint.
 */
import { createServer, type Server } from "node:http";
import { Webhook } from "svix";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDevAuth, type DevAuth } from "../src/index";

const SECRET = `whsec_${Buffer.from("dev-auth-webhook-test-secret-012345").toString("base64")}`;

type Received = { headers: Record<string, string>; body: string };
let auth: DevAuth;
let receiver: Server;
let received: Received[];
let answerStatus = 200;
let url = "";

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = answerStatus;
      res.end("ok");
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", () => ok()));
  const addr = receiver.address();
  url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/clerk/webhook`;
  auth = await startDevAuth({ port: 0, clerkWebhook: { url, secret: SECRET } });
});
afterEach(() => {
  received = [];
  answerStatus = 200;
  auth.configureClerkWebhook({ url, secret: SECRET });
});
afterAll(async () => {
  await auth.close();
  await new Promise<void>((ok) => receiver.close(() => ok()));
});
received = [];

async function call(method: string, path: string, body: unknown) {
  const res = await fetch(`${auth.issuer}${path}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function verified(delivery: Received) {
  return new Webhook(SECRET).verify(delivery.body, delivery.headers) as {
    type: string;
    timestamp: number;
    data: { role: string; organization: { id: string; name: string }; public_user_data: { user_id: string } };
  };
}

describe("Clerk membership webhooks from the dev sign-in", () => {
  it("removing Grace from Acme sends a signed organizationMembership.deleted for dev_grace, and answers after it", async () => {
    const removed = await call("DELETE", "/memberships", { orgId: "org_dev_acme", userId: "grace" });
    expect(removed).toEqual({ status: 200, body: { ok: true, webhook: { type: "organizationMembership.deleted", status: 200 } } });
    expect(received).toHaveLength(1);
    const event = verified(received[0]!);
    expect(event).toMatchObject({
      type: "organizationMembership.deleted",
      data: { role: "org:member", organization: { id: "org_dev_acme", name: "Acme Inc" }, public_user_data: { user_id: "dev_grace" } },
    });
    expect(Math.abs(event.timestamp - Date.now())).toBeLessThan(10_000);
    // A second removal changes nothing and sends nothing.
    expect((await call("DELETE", "/memberships", { orgId: "org_dev_acme", userId: "grace" })).body).toEqual({ ok: true, webhook: null });
    expect(received).toHaveLength(1);
  });

  it("re-adding sends created, a role change sends updated, the same role sends nothing; new organisations send created", async () => {
    await call("PUT", "/memberships", { orgId: "org_dev_acme", userId: "grace", role: "org:member" });
    await call("PUT", "/memberships", { orgId: "org_dev_acme", userId: "grace", role: "org:admin" });
    await call("PUT", "/memberships", { orgId: "org_dev_acme", userId: "grace", role: "org:admin" });
    await call("POST", "/orgs", { userId: "alan", name: "Hook Labs" });
    expect(received.map((d) => [verified(d).type, verified(d).data.role, verified(d).data.organization.id])).toEqual([
      ["organizationMembership.created", "org:member", "org_dev_acme"],
      ["organizationMembership.updated", "org:admin", "org_dev_acme"],
      ["organizationMembership.created", "org:admin", "org_dev_hook_labs"],
    ]);
  });

  it("reports the endpoint's refusal, and a delivery signed with another secret does not verify", async () => {
    answerStatus = 400;
    const res = await call("PUT", "/memberships", { orgId: "org_dev_acme", userId: "alan", role: "org:member" });
    expect(res.body.webhook).toEqual({ type: "organizationMembership.created", status: 400 });
    const other = new Webhook(`whsec_${Buffer.from("another-secret-entirely-0123456789ab").toString("base64")}`);
    expect(() => other.verify(received[0]!.body, received[0]!.headers)).toThrow();
  });

  it("sends nothing without an endpoint", async () => {
    auth.configureClerkWebhook(null);
    expect((await call("DELETE", "/memberships", { orgId: "org_dev_acme", userId: "alan" })).body).toEqual({ ok: true, webhook: null });
    expect(received).toEqual([]);
  });
});
