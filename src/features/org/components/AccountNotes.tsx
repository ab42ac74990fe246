import { useEnsureActiveAccount, useActiveAccount } from "@/src/features/org/hooks/useActiveAccount";

/** What an organisation member cannot do; shown wherever admin-only things are hidden or refused. */
export const ADMIN_ONLY_NOTE = "Only organisation admins can manage billing";

/**
 * Notes about the active account, above every page: a member of an
 * organisation is told what they can do and that billing is the admins';
 * someone removed from the organisation their token names is told to
 * switch. Also creates the organisation's account on first use.
 */
export function AccountNotes() {
  useEnsureActiveAccount();
  const account = useActiveAccount();
  if (account?.status === "removed") {
    return (
      <div className="banner banner-danger" role="alert" data-testid="org-removed-note">
        <span>You are no longer a member of this organisation. Switch to your personal account or another organisation.</span>
      </div>
    );
  }
  if (account?.status === "ok" && account.role === "member") {
    return (
      <div className="banner banner-warning" role="note" data-testid="member-note">
        <span>
          You're a member of <strong>{account.name ?? "this organisation"}</strong>: you can use its tokens and see its
          plan and balance. {ADMIN_ONLY_NOTE}: plans, token packs, auto-recharge, the billing portal and invoices.
        </span>
      </div>
    );
  }
  return null;
}
