/**
 * JWT providers Convex accepts (https://docs.convex.dev/auth/advanced/custom-auth).
 *
 * - Clerk, when `CLERK_JWT_ISSUER_DOMAIN` is set: the issuer (Frontend API URL)
 *   of the Clerk instance, https://docs.convex.dev/auth/clerk.
 * - The local dev sign-in issuer, only when `LOCAL_DEV_AUTH_ISSUER` is set AND
 *   is a loopback origin. A cloud deployment can neither reach loopback JWKS nor
 *   would an operator set that variable, so production never accepts dev tokens.
 *
 * With neither, nobody could sign in: evaluating this file throws, so
 * `npx convex dev` / `npx convex deploy` fail the push with the message below
 * instead of deploying an app that answers every user as signed out. The
 * offline stack (tools/local-backend) sets `LOCAL_DEV_AUTH_ISSUER`;
 * convex-test and the offline codegen never evaluate this file.
 */
// This file is evaluated by Convex with the deployment's environment; there is
// no `ctx` here, so process.env is the documented way to configure providers.
/* eslint-disable @convex-dev/no-process-env */
import type { AuthConfig } from "convex/server";

export const APPLICATION_ID = "convex";

export function isLoopbackOrigin(url: string | undefined): url is string {
  if (!url) return false;
  try {
    const { protocol, hostname } = new URL(url);
    return (protocol === "http:" || protocol === "https:") &&
      (hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]");
  } catch {
    return false;
  }
}

const clerkIssuer = process.env.CLERK_JWT_ISSUER_DOMAIN?.trim();
const devIssuer = process.env.LOCAL_DEV_AUTH_ISSUER;

const providers: AuthConfig["providers"] = [];
if (clerkIssuer) {
  if (!/^https:\/\/[^/\s]+/.test(clerkIssuer)) {
    throw new Error(
      `CLERK_JWT_ISSUER_DOMAIN must be the https URL of your Clerk instance's issuer (e.g. https://<your-app>.clerk.accounts.dev), not "${clerkIssuer}".`,
    );
  }
  providers.push({ domain: clerkIssuer, applicationID: APPLICATION_ID });
}
if (isLoopbackOrigin(devIssuer)) {
  providers.push({ domain: devIssuer, applicationID: APPLICATION_ID });
}
if (providers.length === 0) {
  throw new Error(
    "CLERK_JWT_ISSUER_DOMAIN is not set on this deployment, so no sign-in would be accepted. " +
      "Set it to your Clerk instance's issuer: npx convex env set CLERK_JWT_ISSUER_DOMAIN https://<your-app>.clerk.accounts.dev " +
      "(README, \"Setup with real keys\"; https://docs.convex.dev/auth/clerk).",
  );
}

export default { providers } satisfies AuthConfig;
