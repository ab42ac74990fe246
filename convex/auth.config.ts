/**
 * JWT providers Convex accepts (https://docs.convex.dev/auth/advanced/custom-auth).
 *
 * - Clerk, when `CLERK_JWT_ISSUER_DOMAIN` is set (the issuer of the Clerk JWT
 *   template named `convex`; https://docs.convex.dev/auth/clerk).
 * - The local dev sign-in issuer, only when `LOCAL_DEV_AUTH_ISSUER` is set AND
 *   is a loopback origin. A cloud deployment can neither reach loopback JWKS nor
 *   would an operator set that variable, so production never accepts dev tokens.
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

const providers: AuthConfig["providers"] = [];
if (process.env.CLERK_JWT_ISSUER_DOMAIN) {
  providers.push({ domain: process.env.CLERK_JWT_ISSUER_DOMAIN, applicationID: APPLICATION_ID });
}
if (isLoopbackOrigin(process.env.LOCAL_DEV_AUTH_ISSUER)) {
  providers.push({ domain: process.env.LOCAL_DEV_AUTH_ISSUER, applicationID: APPLICATION_ID });
}

export default { providers } satisfies AuthConfig;
