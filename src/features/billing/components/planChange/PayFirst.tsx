import { usePortal } from "@/src/features/billing/hooks/usePortal";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";

/**
 * Stands in for a plan-change button while a payment needs attention (past
 * due, unpaid, incomplete, 3-D Secure): the server refuses changes then
 * (PAYMENT_REQUIRED), so the customer is sent to pay first — the invoice's
 * hosted page, or the Customer Portal when there is no invoice link.
 */
export function PayFirst({ hostedInvoiceUrl, testId, block = true }: { hostedInvoiceUrl: string | null; testId: string; block?: boolean }) {
  const { openPortal, pending } = usePortal();
  const member = useIsOrgMember();
  if (member) return <AdminOnlyNote testId={testId} />;
  const className = `button button-secondary${block ? " button-block" : ""}`;
  if (hostedInvoiceUrl) {
    return (
      <a className={className} href={hostedInvoiceUrl} data-testid={testId}>
        Pay your open invoice first
      </a>
    );
  }
  return (
    <button type="button" className={className} data-testid={testId} disabled={pending} onClick={() => void openPortal()}>
      {pending ? "Opening…" : "Pay your open invoice first"}
    </button>
  );
}
