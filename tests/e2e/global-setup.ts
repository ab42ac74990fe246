/**
 * Starts the whole local stack (scripts/lib/demoStack.ts) in the Playwright
 * runner process on the test ports, with one dev user per journey, and
 * returns the teardown that stops it. The local mailbox is on (port
 * `e2eMailboxPort()`): every notification email a journey triggers can be
 * asserted through support/mailbox.ts. Nothing is spawned, so a crashed run
 * leaves no processes behind.
 */
import type { FullConfig } from "@playwright/test";
import { DEMO_USERS } from "@offline/dev-auth";
import { startDemoStack } from "../../scripts/lib/demoStack";
import { e2eMailboxPort, e2ePorts } from "./support/env";
import { E2E_USERS } from "./support/users";

/** Log lines that mention failure without being a problem of the stack. */
const NOT_PROBLEMS = /^\[stripe-sim\] (event|webhook) |^\[mailbox\] |"component":"workpool","event":"report"/;

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  const started = Date.now();
  const quiet = process.env.E2E_STACK_LOG !== "1";
  const stack = await startDemoStack({
    ports: e2ePorts(),
    client: "preview",
    users: [...DEMO_USERS, ...Object.values(E2E_USERS)],
    // The operator console journeys' staff member (the dev issuer's subject is `dev_<id>`).
    staffUserIds: [`dev_${E2E_USERS.consoleStaff.id}`],
    // Notification email lands in the local mailbox; journeys read it with support/mailbox.ts.
    mailbox: { port: e2eMailboxPort() },
    // Set E2E_STACK_LOG=1 to see the backend's and simulator's logs.
    // Quiet: only problems, not the simulator's per-event lines (event types contain "failed").
    // Nor the mailbox's subjects ("Your payment failed") or the email workpool's reports ("failed": 0).
    log: quiet ? (line) => (/error|fail|warn/i.test(line) && !NOT_PROBLEMS.test(line) ? console.log(line) : undefined) : undefined,
  });
  // Workers inherit the runner's env: failure diagnostics read the backend with it.
  process.env.E2E_ADMIN_KEY = stack.adminKey;
  console.log(`[e2e] stack ready in ${Date.now() - started} ms: app ${stack.appUrl}, convex ${stack.convexUrl}, stripe ${stack.stripeUrl}, mailbox ${stack.mailbox?.url ?? "off"}`);
  return async () => {
    await stack.close();
    console.log("[e2e] stack stopped");
  };
}
