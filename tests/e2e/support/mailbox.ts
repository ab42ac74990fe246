/**
 * The local mailbox (tools/mailbox) the e2e stack sends every notification
 * email to (global-setup.ts turns it on): read what a journey's user got.
 * Subjects are the notifications' titles (convex/billing/emails/templates.tsx).
 *
 * ```ts
 * const mail = await mailbox.waitFor(user.email, "Your payment failed");
 * expect(mail.text).toContain("Update your card");
 * expect(await mailbox.subjects(user.email)).toEqual(["Your payment failed"]);
 * ```
 */
import { E2E } from "./env";

/** One mail as the mailbox's `GET /api/messages` answers it. `receivedAt` in ms. */
export type MailboxMessage = {
  id: string;
  receivedAt: number;
  from: string;
  to: string[];
  subject: string;
  html: string | null;
  text: string | null;
  idempotencyKey: string | null;
};

async function list(to: string, subject?: string): Promise<MailboxMessage[]> {
  const query = new URLSearchParams({ to, ...(subject === undefined ? {} : { subject }) });
  const res = await fetch(`${E2E.mailboxUrl}/api/messages?${query.toString()}`);
  if (!res.ok) throw new Error(`mailbox GET /api/messages → ${res.status}: ${await res.text()}`);
  return (await res.json()) as MailboxMessage[];
}

export const mailbox = {
  /** Mails sent to `to` (exact address, case-insensitive), newest first; with `subject`, only those whose subject contains it. */
  list,

  /** The subjects of the mails sent to `to`, oldest first (the order they were sent in). */
  async subjects(to: string): Promise<string[]> {
    return (await list(to)).map((m) => m.subject).reverse();
  },

  /**
   * Waits until a mail to `to` whose subject contains `subject` arrives (the
   * email is sent by a scheduled action, a moment after the change), and
   * returns the newest such mail. Throws after `timeoutMs` listing what did arrive.
   */
  async waitFor(to: string, subject: string, timeoutMs = 20_000): Promise<MailboxMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await list(to, subject);
      if (found[0]) return found[0];
      if (Date.now() > deadline) {
        const got = await mailbox.subjects(to);
        throw new Error(`no mail to ${to} with a subject containing ${JSON.stringify(subject)} within ${timeoutMs} ms; got ${JSON.stringify(got)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  },
};
