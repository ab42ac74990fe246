/**
 * Where the browser tests find the stack: the test ports (scripts/lib/demoPorts.ts),
 * overridable with E2E_CONVEX_PORT, E2E_SITE_PORT, E2E_AUTH_PORT, E2E_STRIPE_PORT, E2E_APP_PORT,
 * and the local mailbox's port (`e2eMailboxPort`: E2E_MAILBOX_PORT, else the app port + 1).
 */
import { TEST_PORTS, portNumber, portsFromEnv, type DemoPorts } from "../../../scripts/lib/demoPorts";

export function e2ePorts(): DemoPorts {
  return portsFromEnv("E2E_", TEST_PORTS);
}

/**
 * The local mailbox's port (tools/mailbox, where the backend's Resend calls land):
 * E2E_MAILBOX_PORT, else the app port + 1 (4174 by default). Not the demo's
 * "Convex port + 3", which is the Stripe port in the e2e port sets 5x00..5x04.
 */
export function e2eMailboxPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.E2E_MAILBOX_PORT;
  if (raw !== undefined && raw !== "") return portNumber("E2E_MAILBOX_PORT", raw);
  return e2ePorts().app + 1;
}

const ports = e2ePorts();
const origin = (port: number) => `http://127.0.0.1:${port}`;

export const E2E = {
  appUrl: origin(ports.app),
  convexUrl: origin(ports.convex),
  siteUrl: origin(ports.site),
  authUrl: origin(ports.auth),
  stripeUrl: origin(ports.stripe),
  /** The local mailbox: `GET /api/messages?to=&subject=` (support/mailbox.ts). */
  mailboxUrl: origin(e2eMailboxPort()),
};
