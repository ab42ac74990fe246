/**
 * Read-only look into the local backend for failure reports: the billing
 * component's queries (internal ones included) through the HTTP API's
 * `/api/function` with `componentPath`, as `npx convex run --component
 * billing` calls them, with the admin key global-setup.ts exported.
 */
import { E2E } from "./env";

/** The component instance the app installs in convex/convex.config.ts. */
const BILLING_COMPONENT = "billing";

/** Runs `path` (relative to the component, e.g. `webhooks:list`) in the billing component. */
export async function billingQuery(path: string, args: Record<string, unknown>): Promise<unknown> {
  const key = process.env.E2E_ADMIN_KEY;
  if (!key) throw new Error("E2E_ADMIN_KEY is not set (global-setup.ts sets it)");
  const res = await fetch(`${E2E.convexUrl}/api/function`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Convex ${key}` },
    body: JSON.stringify({ componentPath: BILLING_COMPONENT, path, args, format: "json" }),
  });
  const body = (await res.json()) as { status?: string; value?: unknown; errorMessage?: string; message?: string };
  if (body.status !== "success") throw new Error(`${BILLING_COMPONENT}/${path}: ${body.errorMessage ?? body.message ?? res.status}`);
  return body.value;
}
