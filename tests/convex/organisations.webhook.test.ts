/**
 * `POST /clerk/webhook` (issue 10 §1): Clerk's membership events, verified
 * with the svix signature, change who may act on an organisation's account
 * at once; anything unverifiable is a 400 that writes nothing.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { clerkWebhookActionFrom } from "../../convex/model/orgMemberships";
import { alice, bob, expectCode, inOrg, type TestConvex } from "./billingFixtures";
import {
  CLERK_SECRET,
  membershipBody,
  postClerkWebhook,
  removeViaWebhook,
  stubClerkSecret,
  svixHeaders,
} from "./clerkWebhookFixtures";
import { makeTest } from "./setup";

const ACME = "org_acme";
const aliceAdmin = inOrg(alice, ACME, "org:admin", "Acme Inc");
const bobMember = inOrg(bob, ACME, "org:member", "Acme Inc");

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

async function signUp(t: TestConvex, ...identities: object[]) {
  for (const identity of identities) await t.withIdentity(identity).mutation(api.users.store, {});
}

async function memberships(t: TestConvex) {
  return await t.run(async (ctx) => await ctx.db.query("orgMemberships").collect());
}

describe("POST /clerk/webhook", () => {
  test("a signed organizationMembership.deleted removes the member at once: empty reads, FORBIDDEN writes", async () => {
    stubClerkSecret();
    const t = makeTest();
    await signUp(t, aliceAdmin, bobMember);
    const asMember = t.withIdentity(bobMember);
    expect(await asMember.query(api.tokens.balance, {})).not.toBeNull();

    await removeViaWebhook(t, ACME, bob.subject);

    expect(await asMember.query(api.tokens.balance, {})).toBeNull();
    expect(await asMember.query(api.billing.subscription, {})).toBeNull();
    expect(await asMember.query(api.users.activeAccount, {})).toEqual({ status: "removed", orgId: ACME });
    await expectCode(asMember.mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "b1" }), "FORBIDDEN");
    await expectCode(asMember.action(api.billing.createPortalSession, {}), "FORBIDDEN");
    // Only Bob's membership changed: Alice still acts for Acme.
    expect(await t.withIdentity(aliceAdmin).query(api.tokens.balance, {})).not.toBeNull();
  });

  test("created after deleted re-adds; updated to a member role demotes an admin; an older delivery changes nothing", async () => {
    stubClerkSecret();
    const t = makeTest();
    await signUp(t, aliceAdmin, bobMember);
    await removeViaWebhook(t, ACME, bob.subject, 2_000);
    const readd = membershipBody("organizationMembership.created", ACME, bob.subject, { timestamp: 3_000 });
    expect((await postClerkWebhook(t, readd)).status).toBe(200);
    expect(await t.withIdentity(bobMember).query(api.tokens.balance, {})).not.toBeNull();
    // The old deletion redelivered late is acknowledged and ignored.
    await removeViaWebhook(t, ACME, bob.subject, 2_000);
    expect(await t.withIdentity(bobMember).query(api.tokens.balance, {})).not.toBeNull();

    const demote = membershipBody("organizationMembership.updated", ACME, alice.subject, { role: "org:member", timestamp: 4_000 });
    expect((await postClerkWebhook(t, demote)).status).toBe(200);
    expect(await t.withIdentity(aliceAdmin).query(api.users.activeAccount, {})).toMatchObject({ role: "member" });
    expect(await t.withIdentity(aliceAdmin).query(api.billing.invoices, {})).toEqual([]);
    await expectCode(t.withIdentity(aliceAdmin).action(api.billing.createPortalSession, {}), "FORBIDDEN");
  });

  test("organization.deleted removes every recorded member", async () => {
    stubClerkSecret();
    const t = makeTest();
    await signUp(t, aliceAdmin, bobMember);
    for (const [user, role] of [[alice.subject, "org:admin"], [bob.subject, "org:member"]] as const) {
      const created = membershipBody("organizationMembership.created", ACME, user, { role, timestamp: 1_000 });
      expect((await postClerkWebhook(t, created)).status).toBe(200);
    }
    const deleted = { type: "organization.deleted", object: "event", timestamp: 5_000, data: { id: ACME, object: "organization", deleted: true } };
    expect((await postClerkWebhook(t, deleted)).status).toBe(200);
    expect((await memberships(t)).map((m) => m.status)).toEqual(["removed", "removed"]);
    expect(await t.withIdentity(aliceAdmin).query(api.tokens.balance, {})).toBeNull();
    expect(await t.withIdentity(bobMember).query(api.tokens.balance, {})).toBeNull();
  });

  test("forged, unsigned, stale or wrongly signed deliveries are 400 and write nothing", async () => {
    stubClerkSecret();
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const t = makeTest();
    await signUp(t, aliceAdmin, bobMember);
    const body = JSON.stringify(membershipBody("organizationMembership.deleted", ACME, bob.subject));
    const otherSecret = `whsec_${btoa("somebody-elses-secret-0123456789ab")}`;
    const signed = svixHeaders(body);
    const cases: Record<string, Record<string, string>> = {
      unsigned: { "content-type": "application/json" },
      "another secret": svixHeaders(body, otherSecret),
      "a signature of another body": { ...signed, "svix-signature": svixHeaders(body.replace("deleted", "created"))["svix-signature"] },
      "stale (an hour old)": svixHeaders(body, CLERK_SECRET, new Date(Date.now() - 3_600_000)),
      "garbage signature": { ...signed, "svix-signature": "v1,AAAA" },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const response = await postClerkWebhook(t, body, { headers });
      expect({ name, status: response.status }).toEqual({ name, status: 400 });
    }
    // The body tampered after signing.
    const tampered = await t.fetch("/clerk/webhook", { method: "POST", headers: signed, body: body.replace(bob.subject, alice.subject) });
    expect(tampered.status).toBe(400);
    expect(await memberships(t)).toEqual([]);
    expect(await t.withIdentity(bobMember).query(api.tokens.balance, {})).not.toBeNull();
  });

  test("without CLERK_WEBHOOK_SECRET: 500 (Clerk retries), nothing written", async () => {
    vi.stubEnv("CLERK_WEBHOOK_SECRET", "");
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const t = makeTest();
    const response = await postClerkWebhook(t, membershipBody("organizationMembership.deleted", ACME, bob.subject));
    expect(response.status).toBe(500);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("CLERK_WEBHOOK_SECRET"));
    expect(await memberships(t)).toEqual([]);
  });

  test("other event types are acknowledged (200) and record nothing; oversized bodies are 413", async () => {
    stubClerkSecret();
    const t = makeTest();
    const userCreated = { type: "user.created", object: "event", timestamp: 1, data: { id: "user_x" } };
    expect((await postClerkWebhook(t, userCreated)).status).toBe(200);
    expect(await memberships(t)).toEqual([]);
    const huge = JSON.stringify({ ...userCreated, padding: "x".repeat(70 * 1024) });
    expect((await postClerkWebhook(t, huge)).status).toBe(413);
  });
});

describe("clerkWebhookActionFrom", () => {
  test("membership events, organisation deletions, and the rest ignored", () => {
    expect(clerkWebhookActionFrom(membershipBody("organizationMembership.deleted", ACME, "user_bob", { timestamp: 7 }))).toEqual({
      kind: "membership",
      event: { clerkOrgId: ACME, clerkUserId: "user_bob", status: "removed", role: "member", eventAt: 7 },
    });
    expect(clerkWebhookActionFrom({ type: "organization.deleted", timestamp: 9, data: { id: ACME, deleted: true } })).toEqual({
      kind: "organizationDeleted",
      clerkOrgId: ACME,
      eventAt: 9,
    });
    expect(clerkWebhookActionFrom({ type: "organization.deleted", data: {} })).toEqual({ kind: "ignored", type: "organization.deleted" });
    expect(clerkWebhookActionFrom({ type: "session.created" })).toEqual({ kind: "ignored", type: "session.created" });
    expect(clerkWebhookActionFrom("nonsense")).toEqual({ kind: "ignored", type: null });
  });
});
