/**
 * An organisation member (issue 10 §1) sees the plan and balance on
 * /billing and /pricing, but no buy or manage buttons: each is replaced by
 * "Only organisation admins can manage billing". Invoices say they are the
 * admins' rather than "No invoices yet". An admin of the same organisation
 * sees every button.
 */
import { screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BillingPage } from "@/src/features/billing/components/BillingPage";
import { PaymentBanner } from "@/src/features/billing/components/PaymentBanner";
import { PricingPage } from "@/src/features/billing/components/pricing/PricingPage";
import { UpgradeModal } from "@/src/features/billing/components/upgrade/UpgradeModal";
import { fake } from "./helpers/fakeConvex";
import { balance, paid, plans, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const acme = { status: "ok", kind: "organization", orgId: "org_dev_acme", name: "Acme Inc", accountReady: true } as const;

function as(role: "admin" | "member") {
  fake.setQuery("users:activeAccount", { ...acme, role });
}

beforeEach(() => {
  fake.reset();
  sessionStorage.clear();
  fake.setQuery("plans:list", plans);
  fake.setQuery("tokens:balance", balance({ remaining: 1234, allowance: 2000, used: 766 }));
  fake.setQuery("billing:invoices", []);
  fake.setQuery("tokens:autoRecharge", null);
  fake.setQuery("billing:currency", { billedCurrency: null });
});

const ACTION_IDS = ["manage-billing", "switch-interval", "change-plan", "cancel-plan", "buy-tokens-pack_100", "auto-recharge-threshold"];

describe("a member of the organisation", () => {
  it("sees the plan and balance on /billing with the admin-only note instead of every action", () => {
    as("member");
    fake.setQuery("billing:subscription", paid("pro"));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("subscription-tier")).toHaveTextContent("Pro");
    expect(screen.getByText(/1,234/)).toBeInTheDocument();
    for (const id of ACTION_IDS) expect(screen.queryByTestId(id), id).toBeNull();
    expect(screen.getAllByTestId("admin-only-note")[0]).toHaveTextContent("Only organisation admins can manage billing");
    expect(screen.getByTestId("token-packs-admin-only")).toHaveTextContent("Only organisation admins can manage billing");
    expect(screen.getByTestId("auto-recharge-admin-only")).toBeInTheDocument();
  });

  it("is told invoices are the admins', not that there are none", () => {
    as("member");
    fake.setQuery("billing:subscription", paid("pro"));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("invoices-admin-only")).toHaveTextContent(/visible to organisation admins only/);
    expect(screen.queryByTestId("invoices-empty")).toBeNull();
  });

  it("compares plans on /pricing without upgrade buttons", () => {
    as("member");
    fake.setQuery("billing:subscription", subscription({ tier: "free" }));
    renderApp(<PricingPage />);
    expect(screen.getByTestId("price-pro")).toBeInTheDocument();
    expect(screen.queryByTestId("upgrade-button-pro")).toBeNull();
    expect(within(screen.getByTestId("pricing-card-pro")).getByTestId("pricing-action-pro")).toHaveTextContent("Admins only");
    expect(screen.getByTestId("admin-only-note")).toHaveTextContent("Only organisation admins can manage billing");
  });

  it("sees the payment banner without pay or update-card buttons", () => {
    as("member");
    fake.setQuery("billing:subscription", paid("pro", { status: "past_due", attention: { kind: "past_due", hostedInvoiceUrl: "https://invoice.test/1", amountDue: 2900, currency: "usd" } }));
    renderApp(<PaymentBanner />);
    expect(screen.getByTestId("payment-banner")).toBeInTheDocument();
    expect(screen.queryByTestId("payment-banner-pay")).toBeNull();
    expect(screen.queryByTestId("payment-banner-update-card")).toBeNull();
    expect(screen.getByTestId("payment-banner-admin-only")).toBeInTheDocument();
  });

  it("gets the note in the upgrade dialog instead of upgrade and token-pack buttons", () => {
    as("member");
    fake.setQuery("billing:subscription", subscription({ tier: "free" }));
    renderApp(<UpgradeModal request={{ reason: "no_tokens" }} onClose={() => undefined} />);
    expect(screen.getByTestId("upgrade-modal-admin-only")).toHaveTextContent("Only organisation admins can manage billing");
    expect(screen.queryByTestId("upgrade-modal-upgrade-pro")).toBeNull();
    expect(screen.queryByTestId("buy-tokens-pack_100")).toBeNull();
  });
});

describe("an admin of the organisation", () => {
  it("sees every action and no admin-only note", () => {
    as("admin");
    fake.setQuery("billing:subscription", paid("pro"));
    renderApp(<BillingPage />);
    for (const id of ["manage-billing", "change-plan", "cancel-plan", "buy-tokens-pack_100"]) expect(screen.getByTestId(id), id).toBeInTheDocument();
    expect(screen.queryByTestId("admin-only-note")).toBeNull();
    expect(screen.getByTestId("invoices-empty")).toBeInTheDocument();
  });

  it("sees upgrade buttons on /pricing", () => {
    as("admin");
    fake.setQuery("billing:subscription", subscription({ tier: "free" }));
    renderApp(<PricingPage />);
    expect(screen.getByTestId("upgrade-button-pro")).toBeInTheDocument();
  });
});
