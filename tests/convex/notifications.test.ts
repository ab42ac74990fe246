/**
 * The notification centre and notification email: one row per (account,
 * dedupeKey) even on replay; the caller's own account only; unread count,
 * mark read / all read; one email queued with the Resend component per
 * notification (HTML and text parts from the kind's template), muted kinds
 * skipped for non-critical notices only, none without a billing email or a
 * Resend key.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { recordNotice } from "../../convex/billing/model/alerts";
import { notify, type NotificationInput } from "../../convex/billing/model/notifications";
import { billing, billingInternal, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, seedAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

type ResendEmail = { to: string[] | string; subject?: string; html?: string; text?: string; idempotencyKey?: string };
type ResendCtx = {
  db: { query(table: string): { collect(): Promise<ResendEmail[]> }; get(table: "content", id: string): Promise<{ content: ArrayBuffer } | null> };
};
type ComponentRunner = { runInComponent<T>(path: string, fn: (ctx: ResendCtx) => Promise<T>): Promise<T> };

/** The emails the Resend component holds, with their HTML and text parts decoded. */
async function resendEmails(t: TestConvex) {
  return await (t as unknown as ComponentRunner).runInComponent("billing/resend", async (ctx) => {
    const rows = await ctx.db.query("emails").collect();
    const decode = async (id: string | undefined) => (id ? new TextDecoder().decode((await ctx.db.get("content", id))?.content) : undefined);
    return await Promise.all(rows.map(async (r) => ({ to: r.to, subject: r.subject, idempotencyKey: r.idempotencyKey, html: await decode(r.html), text: await decode(r.text) })));
  });
}

const paymentFailed = (accountId: Id<"billingAccounts">, invoice = "in_1"): NotificationInput => ({
  accountId,
  kind: "payment_failed",
  dedupeKey: `payment_failed:${invoice}`,
  title: "Your payment failed",
  body: "We couldn't collect $20.00.",
  link: "https://invoice.stripe.test/i/1",
  critical: true,
});
const planChanged = (accountId: Id<"billingAccounts">): NotificationInput => ({
  accountId,
  kind: "plan_changed",
  dedupeKey: "plan_changed:sub_1:pro",
  title: "You are now on Pro",
  body: "Your plan changed from Starter to Pro.",
  link: "/billing",
  critical: false,
});

async function notifyIn(t: TestConvex, input: NotificationInput) {
  return await runInBilling(t, async (ctx) => await notify(ctx, input));
}

async function emailState(t: TestConvex, id: Id<"notifications">) {
  return await runInBilling(t, async (ctx) => {
    const row = await ctx.db.get("notifications", id);
    return { emailStatus: row?.emailStatus, emailId: row?.emailId };
  });
}

const sendEmail = async (t: TestConvex, notificationId: Id<"notifications">) =>
  await billing(t).action(billingInternal.notifications.sendEmail, { notificationId });

describe("the notification centre", () => {
  test("a replayed notify shows one notification; unread count and mark read follow", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const first = await notifyIn(t, paymentFailed(accountId));
    const replay = await notifyIn(t, paymentFailed(accountId));
    expect(first.created).toBe(true);
    expect(replay).toEqual({ id: first.id, created: false });
    await notifyIn(t, planChanged(accountId));

    const asAlice = t.withIdentity(alice);
    const page = await asAlice.query(api.notifications.list, { paginationOpts: { numItems: 10, cursor: null } });
    expect(page.page.map((n) => n.title)).toEqual(["You are now on Pro", "Your payment failed"]);
    expect(page.page[1]).toMatchObject({ kind: "payment_failed", link: "https://invoice.stripe.test/i/1", critical: true });
    expect(await asAlice.query(api.notifications.unreadCount, {})).toBe(2);

    await asAlice.mutation(api.notifications.markRead, { id: first.id });
    await asAlice.mutation(api.notifications.markRead, { id: first.id });
    expect(await asAlice.query(api.notifications.unreadCount, {})).toBe(1);
    expect(await asAlice.mutation(api.notifications.markAllRead, {})).toBe(1);
    expect(await asAlice.query(api.notifications.unreadCount, {})).toBe(0);
    const after = await asAlice.query(api.notifications.list, { paginationOpts: { numItems: 10, cursor: null } });
    expect(after.page.every((n) => typeof n.readAt === "number")).toBe(true);
  });

  test("another account's member can neither read nor mark alice's notifications", async () => {
    const t = makeTest();
    const aliceAccount = await seedAccount(t, alice);
    await seedAccount(t, bob);
    const { id } = await notifyIn(t, paymentFailed(aliceAccount));

    const asBob = t.withIdentity(bob);
    expect((await asBob.query(api.notifications.list, { paginationOpts: { numItems: 10, cursor: null } })).page).toEqual([]);
    expect(await asBob.query(api.notifications.unreadCount, {})).toBe(0);
    await expectCode(asBob.mutation(api.notifications.markRead, { id }), "NOT_FOUND");
    await expectCode(asBob.mutation(api.notifications.markRead, { id: "not-an-id" }), "NOT_FOUND");
    expect(await asBob.mutation(api.notifications.markAllRead, {})).toBe(0);
    expect(await t.withIdentity(alice).query(api.notifications.unreadCount, {})).toBe(1);
  });

  test("signed out: an empty list and no count; mutations refuse", async () => {
    const t = makeTest();
    expect((await t.query(api.notifications.list, { paginationOpts: { numItems: 5, cursor: null } })).page).toEqual([]);
    expect(await t.query(api.notifications.unreadCount, {})).toBe(0);
    await expectCode(t.mutation(api.notifications.markAllRead, {}), "UNAUTHENTICATED");
  });

  test("the unread count stops at 100", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await runInBilling(t, async (ctx) => {
      for (let i = 0; i < 105; i += 1) await notify(ctx, { ...planChanged(accountId), dedupeKey: `plan_changed:${i}` });
    });
    expect(await t.withIdentity(alice).query(api.notifications.unreadCount, {})).toBe(100);
  });
});

describe("token alerts and auto-recharge results in the centre", () => {
  test("each alert notifies once per period, even when recorded again; failures needing the customer are critical", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const usage = { periodKey: "pro:2026-11", alertId: "allowance_80", message: "You've used 80% of this period's 1000-token allowance.", balance: 200 };
    const declined = { periodKey: "attempt:1", alertId: "auto_recharge_failed", message: "Your card was declined.", balance: 5, actionUrl: "https://pay.stripe.test/x" };
    await runInBilling(t, async (ctx) => {
      expect(await recordNotice(ctx, accountId, usage)).toBe(true);
      expect(await recordNotice(ctx, accountId, usage)).toBe(false);
      await recordNotice(ctx, accountId, declined);
      await recordNotice(ctx, accountId, declined);
    });
    const page = await t.withIdentity(alice).query(api.notifications.list, { paginationOpts: { numItems: 10, cursor: null } });
    expect(page.page.map((n) => [n.kind, n.title, n.critical, n.link])).toEqual([
      ["auto_recharge", "Auto-recharge payment failed", true, "https://pay.stripe.test/x"],
      ["token_alert", "Token usage alert", false, "/usage"],
    ]);
    // The next period's 80% is a new notification.
    await runInBilling(t, async (ctx) => recordNotice(ctx, accountId, { ...usage, periodKey: "pro:2026-12" }));
    expect(await t.withIdentity(alice).query(api.notifications.unreadCount, {})).toBe(3);
  });
});

describe("notification email", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubEnv("RESEND_API_KEY", "re_test_key");
    vi.stubEnv("EMAIL_FROM", "Acme Billing <billing@acme.test>");
    vi.stubEnv("SITE_URL", "https://app.acme.test");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });

  test("one email per notification, queued once even when the event and the send are replayed", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const { id } = await notifyIn(t, paymentFailed(accountId));
    await notifyIn(t, paymentFailed(accountId));
    await sendEmail(t, id);
    await sendEmail(t, id);

    const emails = await resendEmails(t);
    expect(emails).toHaveLength(1);
    expect(emails[0]).toMatchObject({ to: ["alice@example.com"], subject: "Your payment failed", idempotencyKey: `notification:${id}` });
    expect(emails[0]!.html).toContain("Update payment method");
    expect(emails[0]!.html).toContain('href="https://invoice.stripe.test/i/1"');
    expect(emails[0]!.text).toContain("We couldn't collect $20.00.");
    expect(emails[0]!.text).not.toContain("<");
    const state = await emailState(t, id);
    expect(state.emailStatus).toBe("queued");
    expect(typeof state.emailId).toBe("string");
  });

  test("an in-app link becomes an absolute link to the site in the email", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const { id } = await notifyIn(t, planChanged(accountId));
    await sendEmail(t, id);
    const [email] = await resendEmails(t);
    expect(email!.html).toContain('href="https://app.acme.test/billing"');
  });

  test("a muted kind is not emailed, a critical notice always is; only optional kinds can be muted", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const asAlice = t.withIdentity(alice);
    await asAlice.mutation(api.notifications.setPreferences, { mutedKinds: ["plan_changed"] });
    expect((await asAlice.query(api.notifications.preferences, {}))?.mutedKinds).toEqual(["plan_changed"]);
    await expectCode(asAlice.mutation(api.notifications.setPreferences, { mutedKinds: ["payment_failed"] }), "INVALID_ARGUMENT");

    const muted = await notifyIn(t, planChanged(accountId));
    const critical = await notifyIn(t, paymentFailed(accountId));
    await sendEmail(t, muted.id);
    await sendEmail(t, critical.id);
    expect((await resendEmails(t)).map((e) => e.subject)).toEqual(["Your payment failed"]);
    expect((await emailState(t, muted.id)).emailStatus).toBe("muted");

    // Turned back on: the next plan change is mailed.
    await asAlice.mutation(api.notifications.setPreferences, { mutedKinds: [] });
    const next = await notifyIn(t, { ...planChanged(accountId), dedupeKey: "plan_changed:sub_1:scale" });
    await sendEmail(t, next.id);
    expect(await resendEmails(t)).toHaveLength(2);
  });

  test("another member's preferences do not mute the billing contact's mail", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    // A preferences row for someone else on alice's account (e.g. an organisation member).
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("notificationPreferences", { accountId, userKey: "user:other", email: "other@example.com", mutedKinds: ["plan_changed"] });
    });
    const { id } = await notifyIn(t, planChanged(accountId));
    await sendEmail(t, id);
    expect(await resendEmails(t)).toHaveLength(1);
  });

  test("no billing email: nothing queued (no_recipient)", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { email: undefined });
    await runInBilling(t, async (ctx) => ctx.db.patch("billingAccounts", accountId, { email: undefined }));
    const { id } = await notifyIn(t, paymentFailed(accountId));
    await sendEmail(t, id);
    expect(await resendEmails(t)).toHaveLength(0);
    expect((await emailState(t, id)).emailStatus).toBe("no_recipient");
  });

  test("without RESEND_API_KEY: in-app only, no send scheduled", async () => {
    vi.stubEnv("RESEND_API_KEY", "");
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const { id } = await notifyIn(t, paymentFailed(accountId));
    expect((await emailState(t, id)).emailStatus).toBe("disabled");
    const scheduled = await runInBilling(t, async (ctx) => await ctx.db.system.query("_scheduled_functions").collect());
    expect(scheduled.filter((s) => s.name.includes("sendEmail"))).toHaveLength(0);
    await sendEmail(t, id);
    expect(await resendEmails(t)).toHaveLength(0);
  });
});
