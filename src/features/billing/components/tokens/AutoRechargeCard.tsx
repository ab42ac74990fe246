import { useAction, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { amountIn, BILLING_CONFIG, DEFAULT_CURRENCY, TOKEN_PACKS, tokenPack, type TokenPack } from "@/convex/billing/model/plans";
import { SkeletonCard } from "@/src/components/Skeleton";
import { rememberCheckout } from "@/src/features/billing/lib/browser";
import { humanizeError } from "@/src/lib/errors";
import { currencyExponent, formatCount, formatDate, formatMoney, tokens } from "@/src/lib/format";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";

const DEFAULTS = {
  thresholdTokens: 10,
  packId: TOKEN_PACKS[0]!.id,
  monthlyCapMajor: 50,
};
const LIMITS = BILLING_CONFIG.autoRecharge;

type Draft = {
  thresholdTokens: string;
  packId: string;
  monthlyCapMajor: string;
};
type Settings = ReturnType<typeof useQuery<typeof api.tokens.autoRecharge>>;

function savedDraft(settings: Settings): Draft {
  const pack = tokenPack(settings?.packId) ?? TOKEN_PACKS[0]!;
  return {
    thresholdTokens: String(settings?.thresholdTokens ?? DEFAULTS.thresholdTokens),
    packId: pack.id,
    monthlyCapMajor: String(
      settings ? settings.monthlyCap / 10 ** currencyExponent(settings.currency) : DEFAULTS.monthlyCapMajor,
    ),
  };
}

/** A pack's price in `currency` (minor units), as the server charges it (`model/autoRecharge.ts` `packAmount`). */
function packPrice(pack: TokenPack, currency: string): { amount: number; currency: string } {
  const amount = amountIn(pack, currency);
  return amount === null ? { amount: pack.displayAmount, currency: pack.currency } : { amount, currency };
}

/**
 * Auto-recharge settings (`tokens.autoRecharge`, live): when a run leaves
 * fewer than N tokens, buy a pack with the saved card, up to a monthly
 * limit. Shows the latest attempt: bought, declined (with why), or waiting
 * for the customer to confirm with their bank (a link), and says so when it
 * turned itself off after failed payments. Prices, the cap and the spend
 * are in the account's billed currency (`billing.currency`; USD until one
 * is fixed), which is what the server charges.
 */
export function AutoRechargeCard() {
  const settings = useQuery(api.tokens.autoRecharge);
  const save = useAction(api.tokens.setAutoRecharge);
  const billed = useQuery(api.billing.currency);
  const [edited, setDraft] = useState<Draft | null>(null);
  const [saving, setSaving] = useState(false);
  const member = useIsOrgMember();

  // Members get null from the server (adminQuery); the settings are the admins'.
  if (member) {
    return (
      <section className="card" aria-labelledby="auto-recharge-title" data-testid="auto-recharge">
        <h2 id="auto-recharge-title">Auto-recharge</h2>
        <AdminOnlyNote detail="Admins choose whether the organisation's tokens top up automatically." testId="auto-recharge-admin-only" />
      </section>
    );
  }
  if (settings === undefined || billed === undefined) return <SkeletonCard label="Loading auto-recharge" />;
  // What a save would charge in: the account's billed currency (the server decides the same way).
  const currency = billed?.billedCurrency ?? DEFAULT_CURRENCY;
  // The form shows what is saved until the customer edits it.
  const draft = edited ?? savedDraft(settings);

  const pack = tokenPack(draft.packId) ?? TOKEN_PACKS[0]!;
  const price = packPrice(pack, currency);
  const exponent = currencyExponent(price.currency);
  const enabled = settings?.enabled ?? false;

  const submit = async (turnOn: boolean) => {
    const thresholdTokens = Number(draft.thresholdTokens);
    const monthlyCap = Math.round(Number(draft.monthlyCapMajor) * 10 ** exponent);
    setSaving(true);
    try {
      await save({
        enabled: turnOn,
        thresholdTokens,
        packId: pack.id,
        monthlyCap,
      });
      toast.success(turnOn ? "Auto-recharge is on" : "Auto-recharge is off");
      setDraft(null);
    } catch (error) {
      const human = humanizeError(error);
      toast.error(human.title, { description: human.description });
    } finally {
      setSaving(false);
    }
  };
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void submit(true);
  };
  const last = settings?.lastAttempt ?? null;

  return (
    <section className="card stack" aria-labelledby="auto-recharge-title" data-testid="auto-recharge">
      <div className="card-head">
        <h2 id="auto-recharge-title">Auto-recharge</h2>
        <span className={`pill ${enabled ? "pill-success" : "pill-muted"}`} data-testid="auto-recharge-state">
          {enabled ? "On" : "Off"}
        </span>
      </div>
      {settings?.disabledReason === "failures" ? (
        <p className="banner banner-danger" role="alert" data-testid="auto-recharge-disabled">
          Auto-recharge turned itself off after {settings.consecutiveFailures} failed payments in a row. Update your card in the
          billing portal, then turn it back on.
        </p>
      ) : null}
      {enabled && settings ? (
        <p data-testid="auto-recharge-summary">
          When fewer than {tokens(settings.thresholdTokens)} remain, we buy {tokens(pack.tokens)} for{" "}
          {formatMoney(packPrice(pack, settings.currency).amount, packPrice(pack, settings.currency).currency)} with your saved card. This month:{" "}
          {formatMoney(settings.spentThisMonth, settings.currency)} of {formatMoney(settings.monthlyCap, settings.currency)}.
        </p>
      ) : (
        <p className="muted">Never run out mid-job: buy a pack automatically when your balance runs low.</p>
      )}
      {last ? <LastAttempt attempt={last} /> : null}
      {settings && settings.recent.length > 0 ? <RecentPurchases attempts={settings.recent} /> : null}
      <form className="stack" onSubmit={onSubmit}>
        <div className="field-row">
          <label className="field">
            When fewer than (tokens)
            <input
              type="number"
              inputMode="numeric"
              min={LIMITS.minThresholdTokens}
              max={LIMITS.maxThresholdTokens}
              step={1}
              required
              value={draft.thresholdTokens}
              onChange={(e) => setDraft({ ...draft, thresholdTokens: e.target.value })}
              data-testid="auto-recharge-threshold"
            />
          </label>
          <label className="field">
            Buy
            <select
              value={draft.packId}
              onChange={(e) => setDraft({ ...draft, packId: e.target.value })}
              data-testid="auto-recharge-pack"
            >
              {TOKEN_PACKS.map((p) => (
                <option key={p.id} value={p.id}>
                  {tokens(p.tokens)} for {formatMoney(packPrice(p, currency).amount, packPrice(p, currency).currency)}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            Monthly limit ({price.currency.toUpperCase()})
            <input
              type="number"
              inputMode="decimal"
              min={price.amount / 10 ** exponent}
              max={LIMITS.maxMonthlyCap / 10 ** exponent}
              step={1 / 10 ** exponent}
              required
              value={draft.monthlyCapMajor}
              onChange={(e) => setDraft({ ...draft, monthlyCapMajor: e.target.value })}
              data-testid="auto-recharge-cap"
            />
          </label>
        </div>
        <p className="muted fine-print">
          By turning this on you authorise us to charge your saved card {formatMoney(price.amount, price.currency)} each
          time, up to the monthly limit. If your balance is already below the threshold, the first pack is bought now. Three
          failed payments in a row turn it off.
        </p>
        <div className="actions">
          <button
            type="submit"
            className="button button-primary"
            disabled={saving}
            aria-busy={saving}
            data-testid="auto-recharge-save"
          >
            {saving ? "Saving…" : enabled ? "Save changes" : "Turn on"}
          </button>
          {enabled ? (
            <button
              type="button"
              className="button button-secondary"
              disabled={saving}
              onClick={() => void submit(false)}
              data-testid="auto-recharge-off"
            >
              Turn off
            </button>
          ) : null}
        </div>
      </form>
    </section>
  );
}

type Attempt = NonNullable<NonNullable<Settings>["lastAttempt"]>;

/**
 * The link to the Checkout an auto-recharge needing 3-D Secure opened,
 * "Complete the purchase". Following it remembers the pack, so
 * /billing/success waits for its tokens as after the Buy buttons. Its
 * queries subscribe only while such a link is shown.
 */
export function ConfirmPurchaseLink({ href, testId }: { href: string; testId: string }) {
  const settings = useQuery(api.tokens.autoRecharge);
  const balance = useQuery(api.tokens.balance);
  const remember = () => {
    const attempt = settings?.lastAttempt;
    if (!settings || !attempt) return;
    rememberCheckout({
      previousTier: null,
      topUp: { packId: settings.packId, tokens: attempt.tokens, purchasedBefore: balance?.purchased ?? null },
    });
  };
  return (
    <a href={href} onClick={remember} data-testid={testId}>
      Complete the purchase
    </a>
  );
}

const STATUS_LABELS: Record<Attempt["status"], string> = {
  pending: "Charging…",
  succeeded: "Paid",
  failed: "Declined, not charged",
  requires_action: "Needs your confirmation, not charged",
};

/** The latest purchases, so a card statement's auto-recharge charges can be matched here. */
function RecentPurchases({ attempts }: { attempts: Attempt[] }) {
  return (
    <details data-testid="auto-recharge-recent">
      <summary>Recent auto-recharges</summary>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Tokens</th>
              <th scope="col" className="num">
                Amount
              </th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {attempts.map((a) => (
              <tr key={a.createdAt} data-testid="auto-recharge-row" data-status={a.status}>
                <td>{formatDate(a.createdAt)}</td>
                <td>{formatCount(a.tokens)}</td>
                <td className="num">{formatMoney(a.amount, a.currency)}</td>
                <td>{STATUS_LABELS[a.status]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function LastAttempt({ attempt }: { attempt: Attempt }) {
  const price = formatMoney(attempt.amount, attempt.currency);
  switch (attempt.status) {
    case "pending":
      return (
        <p className="muted" data-testid="auto-recharge-last" data-status="pending">
          Buying {tokens(attempt.tokens)} for {price}…
        </p>
      );
    case "succeeded":
      return (
        <p className="muted" data-testid="auto-recharge-last" data-status="succeeded">
          Last bought {tokens(attempt.tokens)} for {price}.
        </p>
      );
    case "requires_action":
      return (
        <p className="banner banner-warning" data-testid="auto-recharge-last" data-status="requires_action">
          Your bank asked you to confirm the {price} payment.{" "}
          {attempt.actionUrl ? (
            <ConfirmPurchaseLink href={attempt.actionUrl} testId="auto-recharge-confirm" />
          ) : (
            "Buy a pack below to confirm it."
          )}
        </p>
      );
    case "failed":
      return (
        <p className="banner banner-danger" data-testid="auto-recharge-last" data-status="failed">
          The last auto-recharge of {price} failed: {attempt.failureMessage ?? "the payment was declined."}
        </p>
      );
  }
}
