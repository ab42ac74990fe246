/**
 * The organisation seam, provided by the auth provider (src/features/auth):
 * how the header's switcher changes the active account. The active
 * organisation itself lives in the verified token (Clerk's org claims, or the
 * dev sign-in's), never in a Convex argument; switching gets a new token and
 * Convex re-runs every query with it.
 *
 * - `clerk`: Clerk's `<OrganizationSwitcher>` (loaded with Clerk), passed in
 *   as `Switcher` so the entry chunk never imports Clerk.
 * - `dev`: the dev sign-in's organisations and a switcher of our own.
 */
import { createContext, useContext, type ComponentType } from "react";
import type { DevOrgRole, DevUserOrg } from "@/src/features/auth/hooks/devAuthClient";

export type DevOrgControls = {
  mode: "dev";
  /** The organisation the token names, or null for the personal account. */
  activeOrgId: string | null;
  /** The signed-in user's organisations (from the dev issuer). */
  orgs: DevUserOrg[];
  /** Switches the account: an organisation id, or null for the personal account. */
  switchTo: (orgId: string | null) => void;
  /** Creates an organisation with the user in `role` and switches to it. */
  createOrg: (name: string, role: DevOrgRole) => Promise<void>;
};

export type ClerkOrgControls = { mode: "clerk"; Switcher: ComponentType };

export type OrgControls = DevOrgControls | ClerkOrgControls;

export const OrgControlsContext = createContext<OrgControls | null>(null);

/** The auth provider's organisation controls, or null outside one (e.g. component tests). */
export function useOrgControls(): OrgControls | null {
  return useContext(OrgControlsContext);
}
