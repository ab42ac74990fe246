import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startMailbox, type Mailbox } from "../src/index";

let mailbox: Mailbox;
beforeEach(async () => {
  mailbox = await startMailbox({ port: 0 });
});
afterEach(async () => {
  await mailbox.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${mailbox.url}${path}`, {
    method: "POST",
    headers: { authorization: "Bearer re_local", "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

describe("mailbox", () => {
  it("stores a batch as Resend answers it, and lists it by recipient and subject", async () => {
    const res = await post("/emails/batch", [
      { from: "Billing <billing@example.com>", to: ["ada@example.com"], subject: "Payment failed", html: "<p>hi</p>", text: "hi" },
      { from: "billing@example.com", to: "grace@example.com", subject: "Refund received", text: "ok" },
    ]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { id: string }[] };
    expect(body.data).toHaveLength(2);
    const forAda = (await (await fetch(`${mailbox.url}/api/messages?to=ADA@example.com`)).json()) as { subject: string; text: string }[];
    expect(forAda).toEqual([expect.objectContaining({ subject: "Payment failed", text: "hi" })]);
    const refunds = (await (await fetch(`${mailbox.url}/api/messages?subject=Refund`)).json()) as { to: string[] }[];
    expect(refunds.map((m) => m.to)).toEqual([["grace@example.com"]]);
    const html = await (await fetch(`${mailbox.url}/`)).text();
    expect(html).toContain("Payment failed");
    expect(html).toContain("Refund received");
  });

  it("answers a repeated Idempotency-Key with the first ids and stores nothing new", async () => {
    const mail = [{ from: "a@example.com", to: ["b@example.com"], subject: "Once" }];
    const first = (await (await post("/emails/batch", mail, { "idempotency-key": "k1" })).json()) as unknown;
    const second = (await (await post("/emails/batch", mail, { "idempotency-key": "k1" })).json()) as unknown;
    expect(second).toEqual(first);
    expect(mailbox.messages()).toHaveLength(1);
  });

  it("refuses a send without an API key (401) or without a subject (422), storing nothing", async () => {
    const noKey = await fetch(`${mailbox.url}/emails`, { method: "POST", body: JSON.stringify({ from: "a@x.com", to: "b@x.com", subject: "s" }) });
    expect(noKey.status).toBe(401);
    const noSubject = await post("/emails", { from: "a@x.com", to: "b@x.com" });
    expect(noSubject.status).toBe(422);
    expect(mailbox.messages()).toHaveLength(0);
  });

  it("shows one mail with its text part, and empties on DELETE", async () => {
    const { id } = (await (await post("/emails", { from: "a@x.com", to: "b@x.com", subject: "Hello", text: "Body text", html: "<b>x</b>" })).json()) as { id: string };
    const one = await (await fetch(`${mailbox.url}/messages/${id}`)).text();
    expect(one).toContain("Body text");
    await fetch(`${mailbox.url}/api/messages`, { method: "DELETE" });
    expect(mailbox.messages()).toHaveLength(0);
  });
});
