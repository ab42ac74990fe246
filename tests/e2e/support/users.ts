/**
 * One dev sign-in user per journey, so the journeys never share an account,
 * a Stripe customer or a token balance (global-setup.ts offers them on the
 * dev issuer next to the demo users).
 */
import type { DevUser } from "@offline/dev-auth";

function user(id: string, name: string): DevUser {
  return { id, name, email: `${id}@e2e.example.com` };
}

export const E2E_USERS = {
  smoke: user("e2e-smoke", "Sam Smoke"),
  upgrade: user("e2e-upgrade", "Uma Upgrade"),
  tokens: user("e2e-tokens", "Toby Tokens"),
  renewal: user("e2e-renewal", "Rita Renewal"),
  pastDue: user("e2e-pastdue", "Pat Pastdue"),
  portal: user("e2e-portal", "Polly Portal"),
  visitor: user("e2e-visitor", "Vic Visitor"),
  planUpgrade: user("e2e-plan-upgrade", "Ursula Upgrade"),
  planDeclined: user("e2e-plan-declined", "Dora Declined"),
  planDowngrade: user("e2e-plan-downgrade", "Dan Downgrade"),
  planYearly: user("e2e-plan-yearly", "Yara Yearly"),
  planRoundTrip: user("e2e-plan-roundtrip", "Rob Roundtrip"),
  planCancel: user("e2e-plan-cancel", "Cleo Cancel"),
  topUp: user("e2e-top-up", "Tess Topup"),
  autoRecharge: user("e2e-auto-recharge", "Ava Autorecharge"),
  autoRechargeDeclined: user("e2e-auto-recharge-declined", "Fay Failing"),
  autoRecharge3ds: user("e2e-auto-recharge-3ds", "Sid Secure"),
  autoRechargeFree: user("e2e-auto-recharge-free", "Fred Freeplan"),
  overage: user("e2e-overage", "Ola Overage"),
  currency: user("e2e-currency", "Eva Euro"),
  promoCode: user("e2e-promo-code", "Pia Promo"),
  tax: user("e2e-tax", "Tam Taxpayer"),
  /** Issue 10's console journeys: a staff member (in the e2e stack's STAFF_USER_IDS), two customers and a non-staff user. */
  consoleStaff: user("e2e-console-staff", "Stella Staff"),
  consoleCustomer: user("e2e-console-customer", "Cora Customer"),
  consoleResync: user("e2e-console-resync", "Rex Resync"),
  consoleNonStaff: user("e2e-console-nonstaff", "Nina Nonstaff"),
  /** Issue 10's organisation journey: the admin who creates and upgrades the organisation, and its member. */
  orgAdmin: user("e2e-org-admin", "Odile Orgadmin"),
  orgMember: user("e2e-org-member", "Milo Member"),
  /** Issue 11's trial journeys (journey11-trials.spec.ts): a Pro trial with a card, a card-less Starter trial. */
  trialCard: user("e2e-trial-card", "Tia Trialcard"),
  trialNoCard: user("e2e-trial-nocard", "Noel Nocard"),
  /** One trial per person (journey11-trial-per-person.spec.ts): the same person on a second organisation, and a colleague there. */
  trialPerson: user("e2e-trial-person", "Pia Person"),
  trialColleague: user("e2e-trial-colleague", "Cole Colleague"),
  /** Ending a trial early (journey11-end-trial.spec.ts): paid with a good card, and declined. */
  trialEndEarly: user("e2e-trial-end-early", "Esme Early"),
  trialEndDeclined: user("e2e-trial-end-declined", "Dex Declined"),
  /** Issue 11's dunning journeys: a renewal that keeps failing (journey11-dunning), one that needs 3-D Secure (journey11-sca). */
  dunning: user("e2e-dunning", "Duncan Dunning"),
  sca: user("e2e-sca", "Scarlett Secure"),
} satisfies Record<string, DevUser>;

export type E2EUser = (typeof E2E_USERS)[keyof typeof E2E_USERS];
