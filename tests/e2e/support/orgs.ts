/**
 * Organisations in the journeys: calls to the dev sign-in's organisation
 * API (`POST /orgs`, `PUT`/`DELETE /memberships`, which send signed Clerk
 * membership webhooks to the app) and the header's account switcher.
 */
import type { Page } from "@playwright/test";
import { expect } from "./app";
import { E2E } from "./env";

/** Calls the dev sign-in's `method path` with a JSON `body`, expects 200 and returns the JSON answer. */
export async function devAuth(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${E2E.authUrl}${path}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status, `${method} ${path}`).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** Makes `orgId` the active account in the header's switcher. */
export async function switchTo(page: Page, orgId: string): Promise<void> {
  await page.getByTestId("org-switcher").selectOption(orgId);
  await expect(page.getByTestId("org-switcher")).toHaveValue(orgId);
}
