import type { HumanError } from "@/src/lib/errors";

/**
 * The steps of a dialog that previews a charge and then pays it
 * (`data-state` on the dialog): loading the preview, an error, the preview
 * ready, submitting, waiting for Stripe's webhook, 3-D Secure to confirm
 * at `url`, or declined. Shared by the plan-change and end-trial dialogs.
 */
export type PaymentDialogStep<Preview> =
  | { step: "loading" }
  | { step: "error"; error: HumanError }
  | { step: "ready"; preview: Preview }
  | { step: "submitting"; preview: Preview }
  | { step: "waiting"; preview: Preview }
  | { step: "requires_action"; preview: Preview; url: string | null; message: string }
  | { step: "payment_failed"; preview: Preview; message: string };
