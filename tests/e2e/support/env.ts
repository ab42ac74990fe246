/**
 * Where the browser tests find the stack: the test ports (scripts/lib/demoPorts.ts),
 * overridable with E2E_CONVEX_PORT, E2E_SITE_PORT, E2E_AUTH_PORT, E2E_STRIPE_PORT, E2E_APP_PORT.
 */
import { TEST_PORTS, portsFromEnv, type DemoPorts } from "../../../scripts/lib/demoPorts";

export function e2ePorts(): DemoPorts {
  return portsFromEnv("E2E_", TEST_PORTS);
}

const ports = e2ePorts();
const origin = (port: number) => `http://127.0.0.1:${port}`;

export const E2E = {
  appUrl: origin(ports.app),
  convexUrl: origin(ports.convex),
  siteUrl: origin(ports.site),
  authUrl: origin(ports.auth),
  stripeUrl: origin(ports.stripe),
};
