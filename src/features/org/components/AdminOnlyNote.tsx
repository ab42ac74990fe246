import { ADMIN_ONLY_NOTE } from "./AccountNotes";

/**
 * Stands where an organisation member would otherwise see a buy or manage
 * button (plans, token packs, auto-recharge, the portal, plan changes,
 * invoices): the server refuses those to members (`FORBIDDEN`), so the client
 * doesn't offer them. `detail` adds what the member can do instead.
 */
export function AdminOnlyNote({ detail, testId = "admin-only-note" }: { detail?: string; testId?: string }) {
  return (
    <p className="plan-note muted" role="note" data-testid={testId}>
      {ADMIN_ONLY_NOTE}.{detail ? ` ${detail}` : ""}
    </p>
  );
}
