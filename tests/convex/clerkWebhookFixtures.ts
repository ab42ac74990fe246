/**
 * Clerk webhook deliveries for convex-test: bodies shaped as Clerk sends
 * them (https://clerk.com/docs/webhooks/overview) and signed with the svix
 * scheme, posted to `POST /clerk/webhook`.
 */
import { vi } from "vitest";
import { Webhook } from "svix";
import type { TestConvex } from "./billingFixtures";

/** A svix signing secret (`whsec_` + base64 key), as Clerk's dashboard shows it. */
export const CLERK_SECRET = `whsec_${btoa("clerk-webhook-test-secret-0123456789")}`;

/** Sets `CLERK_WEBHOOK_SECRET` for the functions (undo with `vi.unstubAllEnvs()`). */
export function stubClerkSecret(secret = CLERK_SECRET): void {
  vi.stubEnv("CLERK_WEBHOOK_SECRET", secret);
}

export type MembershipType = "organizationMembership.created" | "organizationMembership.updated" | "organizationMembership.deleted";

/** A Clerk `organizationMembership.*` body for `userId` in `orgId`; `timestamp` is Clerk's event time (ms). */
export function membershipBody(
  type: MembershipType,
  orgId: string,
  userId: string,
  options: { role?: string; timestamp?: number } = {},
) {
  const timestamp = options.timestamp ?? Date.now();
  return {
    type,
    object: "event",
    timestamp,
    instance_id: "ins_test",
    data: {
      object: "organization_membership",
      id: `orgmem_${orgId}_${userId}`,
      role: options.role ?? "org:member",
      permissions: [],
      created_at: timestamp,
      updated_at: timestamp,
      organization: { object: "organization", id: orgId, name: orgId, slug: orgId },
      public_user_data: { user_id: userId, identifier: `${userId}@example.com`, first_name: userId },
    },
  };
}

/** Svix headers for `body` signed with `secret` at `at` (default now). */
export function svixHeaders(body: string, secret = CLERK_SECRET, at = new Date(), id = `msg_${Math.random().toString(36).slice(2)}`) {
  return {
    "svix-id": id,
    "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
    "svix-signature": new Webhook(secret).sign(id, at, body),
    "content-type": "application/json",
  };
}

/** Posts `body` to `/clerk/webhook`, signed with `secret` unless `headers` are given. */
export async function postClerkWebhook(
  t: TestConvex,
  body: unknown,
  options: { secret?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  return await t.fetch("/clerk/webhook", {
    method: "POST",
    headers: options.headers ?? svixHeaders(raw, options.secret),
    body: raw,
  });
}

/** Removes `userId` from `orgId` through the signed webhook path; throws unless it answers 200. */
export async function removeViaWebhook(t: TestConvex, orgId: string, userId: string, timestamp = Date.now()): Promise<void> {
  const response = await postClerkWebhook(t, membershipBody("organizationMembership.deleted", orgId, userId, { timestamp }));
  if (response.status !== 200) throw new Error(`Clerk webhook answered ${response.status}: ${await response.text()}`);
}
