/**
 * Notification emails: one template per kind on a shared layout, built with
 * React Email (`@react-email/*` components) and rendered by
 * `@react-email/render` to an HTML part and a plain-text part. Called by the
 * internal action `notifications.sendEmail`; pure (no ctx, no env).
 */
import { Body } from "@react-email/body";
import { Button } from "@react-email/button";
import { Container } from "@react-email/container";
import { Head } from "@react-email/head";
import { Heading } from "@react-email/heading";
import { Hr } from "@react-email/hr";
import { Html } from "@react-email/html";
import { Preview } from "@react-email/preview";
import { render } from "@react-email/render";
import { Section } from "@react-email/section";
import { Text } from "@react-email/text";

export type EmailInput = {
  kind: string;
  title: string;
  body: string;
  /** Absolute URL to act on, or null. */
  link: string | null;
  critical: boolean;
  /** The account's display name (organisation or person), for the footer. */
  accountName: string | null;
};

export type RenderedEmail = { subject: string; html: string; text: string };

/** Per kind: the lead line above the notification's own body and the button's label. */
type KindTemplate = { lead: string; action: string };

/** One template per kind; unknown kinds (added by other features) use `fallback`. */
export const KIND_TEMPLATES: Record<string, KindTemplate> = {
  payment_failed: { lead: "We could not collect a payment for your subscription.", action: "Update payment method" },
  action_required: { lead: "Your bank asks you to confirm a payment.", action: "Confirm your payment" },
  dunning_reminder: { lead: "A payment on your account is still overdue.", action: "Pay now" },
  dunning_suspended: { lead: "Paid features are paused until the overdue payment is made.", action: "Pay now" },
  dunning_restricted: { lead: "Your account is restricted to billing until the overdue payment is made.", action: "Pay now" },
  trial_ending: { lead: "Your trial ends soon.", action: "Review your plan" },
  plan_changed: { lead: "Your plan has changed.", action: "View your plan" },
  plan_scheduled: { lead: "A plan change is scheduled.", action: "View your plan" },
  refund_received: { lead: "A refund is on its way to you.", action: "View invoices" },
  token_alert: { lead: "Your token balance needs attention.", action: "View usage" },
  auto_recharge: { lead: "An automatic top-up ran on your account.", action: "View usage" },
};
const fallback: KindTemplate = { lead: "There is news about your billing.", action: "Open billing" };

export function templateFor(kind: string): KindTemplate {
  return KIND_TEMPLATES[kind] ?? KIND_TEMPLATES[kind.split(":")[0] ?? ""] ?? fallback;
}

const styles = {
  body: { backgroundColor: "#f5f6f8", fontFamily: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", margin: 0, padding: "24px 0" },
  container: { backgroundColor: "#ffffff", borderRadius: 8, margin: "0 auto", maxWidth: 560, padding: 32 },
  heading: { color: "#111827", fontSize: 22, margin: "0 0 16px" },
  lead: { color: "#374151", fontSize: 15, margin: "0 0 8px" },
  text: { color: "#374151", fontSize: 15, lineHeight: "22px" },
  button: { backgroundColor: "#2952cc", borderRadius: 6, color: "#ffffff", fontSize: 15, padding: "12px 20px", textDecoration: "none" },
  footer: { color: "#6b7280", fontSize: 12, lineHeight: "18px" },
} as const;

function Layout(props: { preview: string; children: React.ReactNode; footer: string }) {
  return (
    <Html lang="en">
      <Head />
      <Preview>{props.preview}</Preview>
      <Body style={styles.body}>
        <Container style={styles.container}>
          {props.children}
          <Hr />
          <Text style={styles.footer}>{props.footer}</Text>
        </Container>
      </Body>
    </Html>
  );
}

function NotificationEmail({ input }: { input: EmailInput }) {
  const template = templateFor(input.kind);
  const who = input.accountName ? ` for ${input.accountName}` : "";
  const footer = input.critical
    ? `You receive this billing notice as the billing contact${who}. Critical billing notices are always sent.`
    : `You receive this as the billing contact${who}. You can turn this kind of email off in the app's notification settings.`;
  return (
    <Layout preview={input.title} footer={footer}>
      <Heading as="h1" style={styles.heading}>
        {input.title}
      </Heading>
      <Text style={styles.lead}>{template.lead}</Text>
      <Text style={styles.text}>{input.body}</Text>
      {input.link ? (
        <Section style={{ margin: "24px 0" }}>
          <Button href={input.link} style={styles.button}>
            {template.action}
          </Button>
        </Section>
      ) : null}
    </Layout>
  );
}

/** Renders a notification's email: the subject is its title; HTML and plain text from the same template. */
export async function renderNotificationEmail(input: EmailInput): Promise<RenderedEmail> {
  const element = <NotificationEmail input={input} />;
  const [html, text] = await Promise.all([render(element), render(element, { plainText: true })]);
  return { subject: input.title, html, text };
}
