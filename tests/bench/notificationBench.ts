/**
 * `npm run bench`, a notification send (issue 11 "Figures"): what one
 * `notify()` costs, in-app row and email enqueue, at 10 and 10,000 accounts
 * and beside 0 and 1,000 prior notifications (and emails) of the account.
 *
 * Measured, each in its own transaction inside the billing component, as a
 * Stripe handler or cron calls them:
 * - `notify` (model/notifications.ts), new key: the dedupe look-up, the row
 *   and the scheduled `notifications.sendEmail` (RESEND_API_KEY set);
 * - `notify` again with the same key (a replayed event): the look-up only;
 * - the email: `notifications.emailContext` (the action's read: the row,
 *   the account, the billing contact's preferences) and
 *   `notifications.queueEmail` with the rendered mail, which hands it to the
 *   Resend component (`billing/resend`, registered as a deployment installs
 *   it: its idempotency look-up, email and content rows, batch bookkeeping);
 * - `queueEmail` again (a rerun action): the row's `emailStatus` stops it.
 * The action itself (rendering, no database) is not a transaction.
 *
 * Every figure must be the same at both sizes and both histories (bounded
 * and flat), or the part fails. One send runs first, unmeasured: the first
 * email of a deployment also creates the Resend component's bookkeeping rows. Outbound `fetch` to Resend is answered
 * locally (the component's background batch may run meanwhile; it runs in
 * its own transactions and is not counted here).
 *
 * Run alone: `npx tsx tests/bench/notificationBench.ts [--accounts N]`.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { SchemaDefinition, GenericSchema } from "convex/server";
import { buildModuleMap } from "@offline/local-backend";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { renderNotificationEmail } from "../../convex/billing/emails/templates";
import { notify, type NotificationInput } from "../../convex/billing/model/notifications";
import { billingInternal, registerNpmComponent, runInBilling, type BillingMutationCtx } from "../lib/billingComponent";
import { enableScaleIndexes, formatTable, makeHarness, measureInBilling, ROOT, withoutSchemaValidation, type Harness, type Metrics } from "../lib/convexHarness";

const SEED_BATCH = 500;
/** Notifications each background account holds. */
const BACKGROUND_NOTIFICATIONS = 3;
export const PRIOR_SIZES = [0, 1_000] as const;

/** The Resend component and its children, at the instance paths the billing component gives them. */
const RESEND_TREE: [path: string, pkg: string][] = [
  ["billing/resend", "resend"],
  ["billing/resend/rateLimiter", "rate-limiter"],
  ["billing/resend/emailWorkpool", "workpool"],
  ["billing/resend/callbackWorkpool", "workpool"],
  ["billing/resend/emailWorkpool/batchWorker", "batch-worker"],
  ["billing/resend/callbackWorkpool/batchWorker", "batch-worker"],
];

type ComponentRunner = { runInComponent<T>(path: string, fn: (ctx: { db: { insert(table: string, doc: Record<string, unknown>): Promise<string> } }) => Promise<T>): Promise<T> };

async function registerResend(t: Harness): Promise<void> {
  for (const [path, pkg] of RESEND_TREE) {
    const dir = join(ROOT, "node_modules", "@convex-dev", pkg, "dist", "component");
    const schema = ((await import(pathToFileURL(join(dir, "schema.js")).href)) as { default: SchemaDefinition<GenericSchema, boolean> }).default;
    registerNpmComponent(t, path, schema, buildModuleMap(dir));
  }
}

export type NotificationStep = "notify (new)" | "notify (replay)" | "email: emailContext" | "email: queueEmail (send)" | "email: queueEmail (rerun)";
export const NOTIFICATION_STEPS: NotificationStep[] = [
  "notify (new)",
  "notify (replay)",
  "email: emailContext",
  "email: queueEmail (send)",
  "email: queueEmail (rerun)",
];
export type NotificationFigure = { accounts: number; prior: number; step: NotificationStep; metrics: Metrics };

async function seedBackground(t: Harness, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += SEED_BATCH) {
    const end = Math.min(to, start + SEED_BATCH);
    await withoutSchemaValidation(t, () =>
      runInBilling(t, async (ctx) => {
        for (let i = start; i < end; i++) {
          const accountId = await ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: `user:nb_${i}`, tier: "pro", email: `nb${i}@example.com` });
          for (let n = 0; n < BACKGROUND_NOTIFICATIONS; n++) {
            await ctx.db.insert("notifications", {
              accountId,
              kind: "token_alert",
              dedupeKey: `token_alert:bench:${n}`,
              title: "You have used 80% of your tokens",
              body: "Background notification.",
              critical: false,
              emailStatus: "disabled",
            });
          }
        }
      }),
    );
  }
}

/** The measured account: `prior` notifications already sent (rows and the Resend component's emails). */
async function measuredAccount(t: Harness, tag: string, prior: number): Promise<Id<"billingAccounts">> {
  const accountId = await runInBilling(t, async (ctx) =>
    ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: `user:nb_target_${tag}`, tier: "pro", email: `target-${tag}@example.com`, name: "Bench Target" }),
  );
  for (let start = 0; start < prior; start += SEED_BATCH) {
    const end = Math.min(prior, start + SEED_BATCH);
    const ids = await withoutSchemaValidation(t, () =>
      runInBilling(t, async (ctx) => {
        const made: string[] = [];
        for (let n = start; n < end; n++) {
          made.push(
            await ctx.db.insert("notifications", {
              accountId,
              kind: "plan_changed",
              dedupeKey: `plan_changed:sub_prior:pro:${n}`,
              title: "You are now on Pro",
              body: "A prior notification.",
              link: "/billing",
              critical: false,
              emailStatus: "queued",
              ...(n % 2 === 0 ? { readAt: 1 } : {}),
            }),
          );
        }
        return made;
      }),
    );
    await withoutSchemaValidation(t, () =>
      (t as unknown as ComponentRunner).runInComponent("billing/resend", async (ctx) => {
        for (const id of ids) {
          await ctx.db.insert("emails", {
            from: "Billing <billing@example.com>",
            to: [`target-${tag}@example.com`],
            subject: "You are now on Pro",
            idempotencyKey: `notification:${id}`,
            segment: 1,
            status: "delivered",
            bounced: false,
            complained: false,
            failed: false,
            deliveryDelayed: false,
            opened: false,
            clicked: false,
            replyTo: [],
            finalizedAt: Number.MAX_SAFE_INTEGER,
          });
        }
      }),
    );
  }
  return accountId;
}

/** Cancels the `sendEmail` that `notify` scheduled (the loop below does its work step by step). */
async function cancelSend(ctx: BillingMutationCtx): Promise<boolean> {
  const jobs = await ctx.db.system.query("_scheduled_functions").order("desc").take(5);
  const job = jobs.find((j) => j.state.kind === "pending" && j.name.includes("sendEmail"));
  if (job) await ctx.scheduler.cancel(job._id);
  return job !== undefined;
}

async function measureSend(t: Harness, accounts: number, prior: number, tag: string): Promise<{ figures: NotificationFigure[]; problems: string[] }> {
  const accountId = await measuredAccount(t, tag, prior);
  const input: NotificationInput = {
    accountId,
    kind: "plan_changed",
    dedupeKey: `plan_changed:sub_bench:elite:${tag}`,
    title: "You are now on Elite",
    body: "Your account moved from Pro to Elite. Its features and token allowance apply now.",
    link: "/billing",
    critical: false,
  };
  const problems: string[] = [];
  const figures: NotificationFigure[] = [];
  const add = (step: NotificationStep, metrics: Metrics) => figures.push({ accounts, prior, step, metrics });

  const first = await measureInBilling(t, (ctx) => notify(ctx, input), (ctx) => cancelSend(ctx));
  if (!first.result.created || !first.after) problems.push(`notify did not create a row and schedule its email (${JSON.stringify(first.result)})`);
  add("notify (new)", first.metrics);
  const replay = await measureInBilling(t, (ctx) => notify(ctx, input), (ctx) => cancelSend(ctx));
  if (replay.result.created || replay.after) problems.push("a replayed notify created or scheduled something");
  add("notify (replay)", replay.metrics);

  const notificationId = first.result.id;
  const context = await measureInBilling(t, (ctx) => ctx.runQuery(billingInternal.notifications.emailContext, { notificationId }));
  add("email: emailContext", context.metrics);
  if (!context.result?.to || !context.result.allowed) problems.push(`the email has no recipient or is muted: ${JSON.stringify(context.result)}`);
  const rendered = await renderNotificationEmail({ ...context.result!.notification, link: "https://app.example.test/billing", accountName: context.result!.accountName });
  const args = { notificationId, outcome: "send" as const, to: context.result!.to!, ...rendered };
  const queued = await measureInBilling(t, (ctx) => ctx.runMutation(billingInternal.notifications.queueEmail, args));
  add("email: queueEmail (send)", queued.metrics);
  const rerun = await measureInBilling(t, (ctx) => ctx.runMutation(billingInternal.notifications.queueEmail, args));
  add("email: queueEmail (rerun)", rerun.metrics);
  const row = await runInBilling(t, async (ctx) => ctx.db.get("notifications", notificationId));
  if (row?.emailStatus !== "queued" || !row.emailId) problems.push(`the notification's email was not queued (${row?.emailStatus})`);
  return { figures, problems };
}

/**
 * A stand-in for Resend's API (the component's background batch posts to
 * it), left in place: that batch may still run after the part returns (the
 * bench process exits at its end).
 */
function answerResendLocally(): void {
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith("https://api.resend.com")) return await original(input, init);
    const body = typeof init?.body === "string" ? (JSON.parse(init.body) as unknown[]) : [];
    const data = (Array.isArray(body) ? body : [body]).map((_, i) => ({ id: `re_bench_${Date.now()}_${i}` }));
    return new Response(JSON.stringify({ data }), { status: 200, headers: { "content-type": "application/json" } });
  });
}

/** The figures at 10 and `large` accounts, each with 0 and 1,000 prior notifications, and the problems found. */
export async function benchNotifications(large = 10_000): Promise<{ figures: NotificationFigure[]; problems: string[] }> {
  const env = { RESEND_API_KEY: process.env.RESEND_API_KEY, EMAIL_FROM: process.env.EMAIL_FROM };
  process.env.RESEND_API_KEY = "re_bench_local";
  process.env.EMAIL_FROM = "Billing <billing@example.com>";
  answerResendLocally();
  try {
    const t = makeHarness();
    await registerResend(t);
    await enableScaleIndexes(t);
    // A first send creates the Resend component's own bookkeeping (its options
    // and batch-run rows), as the first email of any deployment does: done
    // once here, so the figures are those of every later send.
    const warmUp = await measureSend(t, 0, 0, "warm_up");
    const figures: NotificationFigure[] = [];
    const problems: string[] = warmUp.problems.map((p) => `notification send (warm-up): ${p}`);
    let seeded = 0;
    for (const accounts of [Math.min(10, large), large]) {
      await seedBackground(t, seeded, accounts);
      seeded = accounts;
      for (const prior of PRIOR_SIZES) {
        const run = await measureSend(t, accounts, prior, `${accounts}_${prior}`);
        figures.push(...run.figures);
        problems.push(...run.problems.map((p) => `notification send (${accounts} accounts, ${prior} prior): ${p}`));
      }
    }
    // Bounded and flat: every step costs the same at each size and history.
    for (const step of NOTIFICATION_STEPS) {
      const mine = figures.filter((f) => f.step === step);
      const shapes = new Set(mine.map((f) => `${f.metrics.documentsRead}/${f.metrics.documentsWritten}/${f.metrics.databaseQueries}`));
      if (shapes.size > 1) problems.push(`notification send: ${step} differs across sizes and histories (${[...shapes].join(" vs ")} read/written/ranges)`);
    }
    return { figures, problems };
  } finally {
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** The documents of one whole send (notify + the email's two transactions), per size and history. */
export function notificationTotals(figures: NotificationFigure[]): { accounts: number; prior: number; read: number; written: number; bytesRead: number; bytesWritten: number }[] {
  const keys = [...new Set(figures.map((f) => `${f.accounts}:${f.prior}`))];
  return keys.map((key) => {
    const mine = figures.filter((f) => `${f.accounts}:${f.prior}` === key && (f.step === "notify (new)" || f.step === "email: emailContext" || f.step === "email: queueEmail (send)"));
    const sum = (k: keyof Metrics) => mine.reduce((s, f) => s + f.metrics[k], 0);
    return { accounts: mine[0]!.accounts, prior: mine[0]!.prior, read: sum("documentsRead"), written: sum("documentsWritten"), bytesRead: sum("bytesRead"), bytesWritten: sum("bytesWritten") };
  });
}

export function notificationTable(figures: NotificationFigure[]): string {
  const fmt = (x: number) => x.toLocaleString("en-US");
  const rows: (string | number)[][] = figures.map((f) => [
    fmt(f.accounts),
    fmt(f.prior),
    f.step,
    fmt(f.metrics.documentsRead),
    fmt(f.metrics.bytesRead),
    fmt(f.metrics.documentsWritten),
    fmt(f.metrics.bytesWritten),
    fmt(f.metrics.databaseQueries),
  ]);
  for (const total of notificationTotals(figures)) {
    rows.push([fmt(total.accounts), fmt(total.prior), "= one send (notify + email)", fmt(total.read), fmt(total.bytesRead), fmt(total.written), fmt(total.bytesWritten), ""]);
  }
  return formatTable(["accounts", "prior", "step", "docs read", "bytes read", "docs written", "bytes written", "ranges"], rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { accounts: { type: "string" } } });
  const large = values.accounts ? Number(values.accounts) : 10_000;
  const { figures, problems } = await benchNotifications(large);
  console.log(notificationTable(figures));
  for (const p of problems) console.log(`FAIL ${p}`);
  process.exit(problems.length > 0 ? 1 : 0);
}
