/**
 * Organisations in the client: the dev sign-in's account switcher (tokens
 * for the chosen organisation, remembered per user, a new organisation with
 * a chosen role, fallback when removed) and the notes members and removed
 * members see.
 */
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from "vitest";
import type { ConvexReactClient } from "convex/react";
import { DevAuthProvider } from "@/src/features/auth/components/DevAuthProvider";
import { AccountNotes } from "@/src/features/org/components/AccountNotes";
import { OrgSwitcher } from "@/src/features/org/components/OrgSwitcher";
import { fake } from "./helpers/fakeConvex";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const AUTH_URL = "http://127.0.0.1:3212";
const ACME = { id: "org_dev_acme", name: "Acme Inc", slug: "acme", role: "org:admin" };
const client = {} as ConvexReactClient;

let fetchMock: Mock<(url: string, init?: RequestInit) => Promise<Response>>;
let tokenBodies: Record<string, unknown>[];
let members: Set<string>;

function json(body: unknown, status = 200) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } }));
}

beforeEach(() => {
  fake.reset();
  localStorage.clear();
  tokenBodies = [];
  members = new Set(["org_dev_acme"]);
  fetchMock = vi.fn((url: string, init?: RequestInit): Promise<Response> => {
    if (url === `${AUTH_URL}/users`) {
      return json([{ id: "ada", name: "Ada Lovelace", email: "ada@example.test", organizations: members.has(ACME.id) ? [ACME] : [] }]);
    }
    if (url === `${AUTH_URL}/token`) {
      const body = JSON.parse(init!.body as string) as Record<string, unknown>;
      tokenBodies.push(body);
      if (typeof body.orgId === "string" && !members.has(body.orgId)) return json({ error: "not a member" }, 403);
      const org = typeof body.orgId === "string" ? body.orgId : "personal";
      return json({ token: `jwt-ada-${org}`, expiresAt: Date.now() + 3_600_000 });
    }
    if (url === `${AUTH_URL}/orgs`) {
      const body = JSON.parse(init!.body as string) as { name: string; role: string };
      members.add("org_dev_new_co");
      return json({ id: "org_dev_new_co", name: body.name, slug: "new-co", role: body.role });
    }
    return json({ error: "not found" }, 404);
  });
  vi.stubGlobal("fetch", fetchMock);
  localStorage.setItem("devAuth.user", JSON.stringify({ id: "ada", name: "Ada Lovelace" }));
});

afterEach(() => {
  vi.unstubAllGlobals();
});

function renderSwitcher() {
  return render(
    <DevAuthProvider client={client} authUrl={AUTH_URL}>
      <OrgSwitcher />
    </DevAuthProvider>,
  );
}

describe("dev sign-in org switcher", () => {
  it("lists the personal account and the user's organisations; switching gets a token for the chosen account", async () => {
    const user = userEvent.setup();
    renderSwitcher();
    const switcher = await screen.findByTestId("org-switcher");
    await screen.findByRole("option", { name: "Acme Inc (admin)" });
    expect(screen.getByRole("option", { name: "Personal account" })).toBeInTheDocument();
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-ada-personal");

    const personalAdapter = fake.authAdapter!.fetchAccessToken;
    await user.selectOptions(switcher, ACME.id);
    // A new fetchAccessToken makes Convex fetch a token and re-run every query.
    expect(fake.authAdapter!.fetchAccessToken).not.toBe(personalAdapter);
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-ada-org_dev_acme");
    expect(tokenBodies.at(-1)).toEqual({ userId: "ada", orgId: ACME.id });
    expect(JSON.parse(localStorage.getItem("devAuth.org")!)).toEqual({ userId: "ada", orgId: ACME.id });

    await user.selectOptions(switcher, "");
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-ada-personal");
    expect(tokenBodies.at(-1)).toEqual({ userId: "ada" });
    expect(localStorage.getItem("devAuth.org")).toBeNull();
  });

  it("restores the remembered organisation, and falls back to the personal account once removed from it", async () => {
    localStorage.setItem("devAuth.org", JSON.stringify({ userId: "ada", orgId: ACME.id }));
    renderSwitcher();
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-ada-org_dev_acme");

    members.delete(ACME.id);
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: true })).toBeNull();
    await waitFor(() => expect(localStorage.getItem("devAuth.org")).toBeNull());
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-ada-personal");
  });

  it("creates an organisation with the chosen role and switches to it", async () => {
    const user = userEvent.setup();
    renderSwitcher();
    await screen.findByRole("option", { name: "Acme Inc (admin)" });
    await user.selectOptions(screen.getByTestId("org-switcher"), "__new__");
    await user.type(await screen.findByTestId("new-org-name"), "New Co");
    await user.selectOptions(screen.getByTestId("new-org-role"), "org:member");
    await user.click(screen.getByTestId("new-org-create"));

    await waitFor(() => expect(screen.queryByTestId("new-org-dialog")).toBeNull());
    const orgCall = fetchMock.mock.calls.find(([url]) => url === `${AUTH_URL}/orgs`)!;
    expect(JSON.parse(orgCall[1]!.body as string)).toEqual({ userId: "ada", name: "New Co", role: "org:member" });
    expect(screen.getByTestId("org-switcher")).toHaveValue("org_dev_new_co");
    expect(screen.getByRole("option", { name: "New Co (member)" })).toBeInTheDocument();
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-ada-org_dev_new_co");
  });
});

describe("account notes", () => {
  const ok = { status: "ok", kind: "organization", orgId: ACME.id, name: "Acme Inc", accountReady: true } as const;

  it("tells a member that only organisation admins can manage billing; admins and personal accounts see nothing", () => {
    fake.setMutation("users:store", () => "u1");
    fake.setQuery("users:activeAccount", { ...ok, role: "member" });
    const { rerender } = render(<AccountNotes />);
    expect(screen.getByTestId("member-note")).toHaveTextContent("You're a member of Acme Inc");
    expect(screen.getByTestId("member-note")).toHaveTextContent("Only organisation admins can manage billing");

    fake.setQuery("users:activeAccount", { ...ok, role: "admin" });
    rerender(<AccountNotes />);
    expect(screen.queryByTestId("member-note")).toBeNull();
    fake.setQuery("users:activeAccount", { status: "ok", kind: "personal", orgId: null, name: "Ada", role: "admin", accountReady: true });
    rerender(<AccountNotes />);
    expect(screen.queryByTestId("member-note")).toBeNull();
  });

  it("tells a removed member to switch", () => {
    fake.setQuery("users:activeAccount", { status: "removed", orgId: ACME.id });
    render(<AccountNotes />);
    expect(screen.getByTestId("org-removed-note")).toHaveTextContent("no longer a member");
  });

  it("creates the organisation's account the first time it is active, once", async () => {
    const store = fake.setMutation("users:store", () => "u1");
    fake.setQuery("users:activeAccount", { ...ok, role: "admin", accountReady: false });
    const { rerender } = render(<AccountNotes />);
    await waitFor(() => expect(store).toHaveBeenCalledTimes(1));
    rerender(<AccountNotes />);
    fake.setQuery("users:activeAccount", { ...ok, role: "admin", accountReady: true });
    rerender(<AccountNotes />);
    expect(store).toHaveBeenCalledTimes(1);
  });
});
