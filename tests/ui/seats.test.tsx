/**
 * The seats card and the "add seats" prompt (docs/SEATS.md): an org admin
 * picks seats, previews Stripe's prorated amounts in the billed currency,
 * confirms once, and the card follows the subscription live; members see the
 * seats read-only; personal accounts see nothing.
 */
import { screen, within } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SeatPreview, SeatsView } from "@/convex/billing/model/seats";
import { SeatsCard } from "@/src/features/billing/components/seats/SeatsCard";
import { SeatsPrompt } from "@/src/features/billing/components/seats/SeatsPrompt";
import { PricingPage } from "@/src/features/billing/components/pricing/PricingPage";
import { browser } from "@/src/features/billing/lib/browser";
import { plans, subscription } from "./helpers/fixtures";
import { fake } from "./helpers/fakeConvex";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const org = (role: "admin" | "member") => ({ status: "ok", kind: "organization", orgId: "org_acme", name: "Acme", role, accountReady: true });
const personal = { status: "ok", kind: "personal", orgId: null, name: "Ada", role: "admin", accountReady: true };

function view(overrides: Partial<SeatsView> = {}): SeatsView {
  return {
    tier: "pro",
    perSeat: true,
    mode: "chosen",
    min: 1,
    max: 50,
    seats: 3,
    paidSeats: 3,
    members: 2,
    overCapacity: false,
    allowancePerPeriod: 450,
    windowAllowance: 450,
    allowancePerExtraSeat: 150,
    blocked: null,
    ...overrides,
  };
}

const NEXT = Date.UTC(2026, 11, 29);
function preview(overrides: Partial<SeatPreview> = {}): SeatPreview {
  return {
    kind: "increase",
    from: 3,
    to: 5,
    currency: "eur",
    dueNow: 5787,
    prorationCredit: 8681,
    unitAmount: 2900,
    nextInvoiceAmount: 14500,
    nextInvoiceAt: NEXT,
    allowanceBefore: 450,
    allowanceAfter: 750,
    ...overrides,
  };
}

const euro = (minor: number) => new Intl.NumberFormat(undefined, { style: "currency", currency: "EUR" }).format(minor / 100);

beforeEach(() => {
  fake.reset();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("seats card (org admin, seats chosen)", () => {
  it("shows seats, members and tokens; previews the prorated amount in the billed currency; confirms once and follows the subscription live", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("seats:view", view());
    const previewFn = fake.setAction("seats:preview", () => preview());
    const change = fake.setAction("seats:change", () => ({ status: "applied", seats: 5, hostedInvoiceUrl: null, message: "You now have 5 seats. Your allowance updates in a moment." }));
    const { user } = renderApp(<SeatsCard />);

    const card = await screen.findByTestId("seats-card");
    expect(within(card).getByTestId("seats-current")).toHaveTextContent("3");
    expect(within(card).getByTestId("seats-members")).toHaveTextContent("2");
    expect(within(card).getByTestId("seats-allowance")).toHaveTextContent("450 tokens");
    // Nothing to preview until the number changes.
    expect(within(card).getByTestId("seats-preview")).toBeDisabled();

    await user.click(within(card).getByTestId("seats-plus"));
    await user.click(within(card).getByTestId("seats-plus"));
    expect(within(card).getByTestId("seats-input")).toHaveValue(5);
    await user.click(within(card).getByTestId("seats-preview"));
    expect(previewFn).toHaveBeenCalledWith({ seats: 5 });

    const panel = await within(card).findByTestId("seats-preview-panel");
    expect(within(panel).getByTestId("seats-due-now")).toHaveTextContent(euro(5787));
    expect(within(panel).getByTestId("seats-next-invoice")).toHaveTextContent(euro(14500));
    expect(panel).toHaveTextContent(new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(new Date(NEXT)));
    expect(within(panel).getByTestId("seats-allowance-after")).toHaveTextContent("450 tokens → 750 tokens");
    expect(within(panel).getByTestId("seats-preview-note")).toHaveTextContent(`−${euro(8681)} for the unused time`);

    await user.click(within(panel).getByTestId("seats-confirm"));
    expect(change).toHaveBeenCalledTimes(1);
    const { seats, requestId } = change.mock.calls[0]![0] as { seats: number; requestId: string };
    expect(seats).toBe(5);
    expect(requestId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(await screen.findByText("You now have 5 seats. Your allowance updates in a moment.")).toBeInTheDocument();
    // Until Stripe's events arrive the card says so and takes no second change.
    expect(within(card).getByTestId("seats-updating")).toHaveTextContent("Updating to 5 seats");
    expect(within(card).getByTestId("seats-plus")).toBeDisabled();

    // The subscription's quantity changes, then the paid invoice raises the allowance.
    fake.pushQuery("seats:view", view({ seats: 5, paidSeats: 3, allowancePerPeriod: 750 }));
    expect(within(card).getByTestId("seats-current")).toHaveTextContent("5");
    expect(within(card).queryByTestId("seats-updating")).toBeNull();
    fake.pushQuery("seats:view", view({ seats: 5, paidSeats: 5, windowAllowance: 750, allowancePerPeriod: 750 }));
    expect(within(card).getByTestId("seats-allowance")).toHaveTextContent("750 tokens");
    expect(within(card).getByTestId("seats-count")).toHaveTextContent("5 seats");
  });

  it("never goes below the member count or above the plan's maximum", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("seats:view", view({ seats: 3, members: 3, max: 4 }));
    const previewFn = fake.setAction("seats:preview", () => preview());
    const { user } = renderApp(<SeatsCard />);
    const card = await screen.findByTestId("seats-card");
    expect(within(card).getByTestId("seats-minus")).toBeDisabled();
    await user.click(within(card).getByTestId("seats-plus"));
    expect(within(card).getByTestId("seats-plus")).toBeDisabled();

    await user.clear(within(card).getByTestId("seats-input"));
    await user.type(within(card).getByTestId("seats-input"), "2");
    expect(within(card).getByTestId("seats-invalid")).toHaveTextContent("Keep at least 3 seats: your organisation has 3 members.");
    expect(within(card).getByTestId("seats-preview")).toBeDisabled();
    expect(previewFn).not.toHaveBeenCalled();
  });

  it("a decrease says nothing is charged now; a declined card keeps the seats and says why", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("seats:view", view({ seats: 4, paidSeats: 4, members: 1 }));
    fake.setAction("seats:preview", () => preview({ kind: "decrease", from: 4, to: 3, dueNow: 0, prorationCredit: 0, nextInvoiceAmount: 8700 }));
    fake.setAction("seats:change", () => ({ status: "payment_failed", seats: 4, hostedInvoiceUrl: null, message: "Your card was declined, so you keep 4 seats." }));
    const { user } = renderApp(<SeatsCard />);
    const card = await screen.findByTestId("seats-card");
    await user.click(within(card).getByTestId("seats-minus"));
    await user.click(within(card).getByTestId("seats-preview"));
    const panel = await within(card).findByTestId("seats-preview-panel");
    expect(within(panel).getByTestId("seats-due-now")).toHaveTextContent(euro(0));
    expect(within(panel).getByTestId("seats-preview-note")).toHaveTextContent("Nothing is charged or credited now");
    expect(within(panel).getByTestId("seats-confirm")).toHaveTextContent("Remove 1 seat");
    await user.click(within(panel).getByTestId("seats-confirm"));
    expect(await screen.findByText("Your card was declined, so you keep 4 seats.")).toBeInTheDocument();
    expect(within(card).queryByTestId("seats-updating")).toBeNull();
  });

  it("a refused preview shows the server's reason in the card and as a toast", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("seats:view", view());
    fake.setAction("seats:preview", () => {
      throw new ConvexError({ code: "CHANGE_PENDING", message: "A change is already pending on your subscription." });
    });
    const { user } = renderApp(<SeatsCard />);
    const card = await screen.findByTestId("seats-card");
    await user.click(within(card).getByTestId("seats-plus"));
    await user.click(within(card).getByTestId("seats-preview"));
    expect(await within(card).findByTestId("seats-error")).toBeInTheDocument();
    expect(within(card).queryByTestId("seats-preview-panel")).toBeNull();
  });

  it("is blocked with the reason while a payment is due", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("seats:view", view({ blocked: "Pay the open invoice before changing seats." }));
    renderApp(<SeatsCard />);
    const card = await screen.findByTestId("seats-card");
    expect(within(card).getByTestId("seats-blocked")).toHaveTextContent("Pay the open invoice before changing seats.");
    expect(within(card).getByTestId("seats-plus")).toBeDisabled();
    expect(within(card).getByTestId("seats-preview")).toBeDisabled();
  });
});

describe("seats card: other states", () => {
  it("loading, then an empty state for an organisation without a per-seat plan", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    renderApp(<SeatsCard />);
    expect(screen.getByLabelText("Loading seats")).toBeInTheDocument();
    fake.pushQuery("seats:view", view({ tier: null, perSeat: false, mode: null, seats: 1, paidSeats: null }));
    expect(await screen.findByTestId("seats-empty")).toHaveTextContent("No seats yet.");
    expect(screen.getByRole("link", { name: "Choose a plan" })).toHaveAttribute("href", "/pricing");
  });

  it("seats that follow the members are read-only", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("seats:view", view({ tier: "elite", mode: "members", seats: 4, members: 4 }));
    renderApp(<SeatsCard />);
    const card = await screen.findByTestId("seats-card");
    expect(within(card).getByTestId("seats-follow-members")).toHaveTextContent("Seats follow your member count");
    expect(within(card).queryByTestId("seats-input")).toBeNull();
  });

  it("members see the seats read-only, without a picker", async () => {
    fake.setQuery("users:activeAccount", org("member"));
    fake.setQuery("seats:summary", { perSeat: true, mode: "chosen", seats: 3, members: 2, overCapacity: false });
    renderApp(<SeatsCard />);
    const card = await screen.findByTestId("seats-card");
    expect(within(card).getByTestId("seats-summary")).toHaveTextContent("3 seats for 2 members.");
    expect(within(card).getByTestId("seats-admin-only")).toBeInTheDocument();
    expect(within(card).queryByTestId("seats-input")).toBeNull();
  });

  it("a personal account shows no seats card", () => {
    fake.setQuery("users:activeAccount", personal);
    fake.setQuery("seats:view", view({ perSeat: false, mode: null, tier: "pro", seats: 1 }));
    renderApp(<SeatsCard />);
    expect(screen.queryByTestId("seats-card")).toBeNull();
  });
});

describe("the add-seats prompt", () => {
  it("tells the admin when members exceed the seats, links to the seats card, and goes away once seats are added", async () => {
    fake.setQuery("seats:view", view({ seats: 2, members: 3, overCapacity: true }));
    renderApp(<SeatsPrompt />);
    const prompt = await screen.findByTestId("seats-prompt");
    expect(prompt).toHaveTextContent("3 members, 2 seats.");
    expect(within(prompt).getByRole("link", { name: "Add seats" })).toHaveAttribute("href", "/billing#seats");
    fake.pushQuery("seats:view", view({ seats: 3, members: 3, overCapacity: false }));
    expect(screen.queryByTestId("seats-prompt")).toBeNull();
  });

  it("shows nothing to members (the view is null for them)", () => {
    fake.setQuery("seats:view", null);
    renderApp(<SeatsPrompt />);
    expect(screen.queryByTestId("seats-prompt")).toBeNull();
  });
});

describe("pricing page: an org admin chooses the seats Checkout buys", () => {
  beforeEach(() => {
    fake.setQuery("plans:list", plans);
    fake.setQuery("billing:subscription", subscription());
    fake.setQuery("billing:currency", { billedCurrency: null });
    vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
  });

  it("Pro starts at the member count, never fewer, and sends the chosen seats; Elite shows the member count; flat plans show nothing", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("seats:summary", { perSeat: false, mode: null, seats: 1, members: 3, overCapacity: false });
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.example.test/c/1" }));
    const { user } = renderApp(<PricingPage />);

    const pro = within(await screen.findByTestId("pricing-card-pro"));
    const input = pro.getByTestId("checkout-seats-pro-input");
    expect(input).toHaveValue(3);
    expect(input).toHaveAttribute("min", "3");
    expect(pro.getByTestId("checkout-seats-pro-total")).toHaveTextContent("3 seats · $87.00 /month · 450 tokens a month");
    await user.clear(input);
    await user.type(input, "2");
    expect(pro.getByTestId("checkout-seats-pro-range")).toHaveTextContent("Between 3 and 50 seats: at least one per member.");
    expect(pro.getByTestId("checkout-seats-pro-total")).toHaveTextContent("3 seats");
    await user.clear(input);
    await user.type(input, "5");
    expect(pro.queryByTestId("checkout-seats-pro-range")).toBeNull();
    expect(pro.getByTestId("checkout-seats-pro-total")).toHaveTextContent("5 seats · $145.00 /month · 750 tokens a month");
    await user.click(pro.getByTestId("upgrade-button-pro"));
    expect(checkout).toHaveBeenCalledWith({ tier: "pro", interval: "month", seats: 5 });

    expect(within(screen.getByTestId("pricing-card-elite")).getByTestId("checkout-seats-elite")).toHaveTextContent("Seats follow your members: 3 seats now.");
    expect(within(screen.getByTestId("pricing-card-starter")).queryByTestId("checkout-seats-starter")).toBeNull();
  });

  it("a personal account buys without a seat picker", async () => {
    fake.setQuery("users:activeAccount", personal);
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.example.test/c/1" }));
    const { user } = renderApp(<PricingPage />);
    const pro = within(await screen.findByTestId("pricing-card-pro"));
    expect(pro.queryByTestId("checkout-seats-pro")).toBeNull();
    await user.click(pro.getByTestId("upgrade-button-pro"));
    expect(checkout).toHaveBeenCalledWith({ tier: "pro", interval: "month" });
  });
});
