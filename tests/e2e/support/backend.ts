/**
 * Read-only look into the local backend for failure reports: internal
 * queries through its HTTP API with the admin key global-setup.ts exported.
 */
import { E2E } from "./env";

export async function adminQuery(path: string, args: Record<string, unknown>): Promise<unknown> {
  const key = process.env.E2E_ADMIN_KEY;
  if (!key) throw new Error("E2E_ADMIN_KEY is not set (global-setup.ts sets it)");
  const res = await fetch(`${E2E.convexUrl}/api/query`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Convex ${key}` },
    body: JSON.stringify({ path, args: [args], format: "json" }),
  });
  const body = (await res.json()) as { status: string; value?: unknown; errorMessage?: string };
  if (body.status !== "success") throw new Error(`${path}: ${body.errorMessage ?? res.status}`);
  return body.value;
}
