/**
 * Components from npm packages in the local backend: the npm-component-app
 * fixture installs `@convex-dev/resend` (which installs `rateLimiter` and two
 * `workpool`s, each with a `batchWorker`). A send goes through the
 * component's batch, workpool and `fetch("https://api.resend.com/…")`, which
 * `fetchRedirects` sends to the local mailbox.
 */
import { join } from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMailbox, type Mailbox } from "@offline/mailbox";
import { startLocalBackend, type LocalBackend } from "../src/index";
import { waitFor } from "./fixtures/backend";

const send = makeFunctionReference<"mutation", { to: string; subject: string; key: string }, string>("mail:send");
const status = makeFunctionReference<"query", { id: string }, string | null>("mail:status");

describe("local backend with an npm component (@convex-dev/resend)", () => {
  let backend: LocalBackend;
  let mailbox: Mailbox;

  beforeAll(async () => {
    mailbox = await startMailbox({ port: 0 });
    backend = await startLocalBackend({
      convexDir: join(import.meta.dirname, "fixtures", "npm-component-app", "convex"),
      port: 0,
      sitePort: 0,
      devAuth: false,
      envFile: null,
      crons: "manual",
      log: false,
      fetchRedirects: { "https://api.resend.com": mailbox.url },
    });
  });
  afterAll(async () => {
    await backend?.close();
    await mailbox?.close();
  });

  it("registers the package's component and its children, nested", () => {
    expect(backend.engine.componentPaths()).toEqual(
      expect.arrayContaining([
        "resend",
        "resend/rateLimiter",
        "resend/emailWorkpool",
        "resend/callbackWorkpool",
        "resend/emailWorkpool/batchWorker",
        "resend/callbackWorkpool/batchWorker",
      ]),
    );
  });

  it("delivers a send to the mailbox once, even when the send is repeated with its idempotency key", async () => {
    const client = new ConvexHttpClient(backend.url);
    const id = await client.mutation(send, { to: "ada@example.com", subject: "Hello from the fixture", key: "k-1" });
    const again = await client.mutation(send, { to: "ada@example.com", subject: "Hello from the fixture", key: "k-1" });
    expect(again).toBe(id);
    const live = new ConvexClient(backend.url);
    try {
      await waitFor<string | null>((onValue, onError) => live.onUpdate(status, { id }, onValue, onError), (s) => s === "sent", 20_000);
    } finally {
      await live.close();
    }
    const mails = mailbox.messages();
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ to: ["ada@example.com"], subject: "Hello from the fixture", text: "Hello ada@example.com" });
    expect(mails[0]!.html).toContain("<p>Hello ada@example.com</p>");
  });
});
