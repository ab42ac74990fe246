import { useMutation, useQuery } from "convex/react";
import { useEffect, useRef } from "react";
import { api } from "@/convex/_generated/api";

/**
 * The account the caller acts on (`users.activeAccount`): `undefined` while
 * loading, `null` signed out, `{ status: "ok", kind, orgId, name, role,
 * accountReady }` or `{ status: "removed", orgId }`. Follows the token live.
 */
export function useActiveAccount() {
  return useQuery(api.users.activeAccount);
}

/**
 * True when the caller may not manage the active account's billing: a member
 * (not an admin) of the active organisation, or someone removed from it
 * whose token still names it (the server refuses them everything; the UI
 * hides the buttons and forms rather than offer what will fail).
 */
export function useIsOrgMember(): boolean {
  const account = useActiveAccount();
  return account?.status === "removed" || (account?.status === "ok" && account.role === "member");
}

/**
 * Calls `users.store` when the active organisation's account does not exist
 * yet (`accountReady: false`, e.g. right after switching to an organisation
 * for the first time), once per organisation. The query re-runs with the new
 * token, so this runs after Convex has the organisation's token.
 */
export function useEnsureActiveAccount(): void {
  const account = useActiveAccount();
  const store = useMutation(api.users.store);
  const tried = useRef<string | null>(null);
  const missing = account?.status === "ok" && !account.accountReady ? (account.orgId ?? "personal") : null;

  useEffect(() => {
    if (!missing || tried.current === missing) return;
    tried.current = missing;
    store().catch((error: unknown) => {
      tried.current = null;
      console.warn("Couldn't set up the organisation's account", error);
    });
  }, [missing, store]);
}
