import { ConvexError } from "convex/values";
import { describe, expect, it } from "vitest";
import { humanizeError } from "@/src/lib/errors";

describe("humanizeError", () => {
  it("FORBIDDEN says why: an organisation member is told only admins manage billing", () => {
    const message = "Only organisation admins can manage billing. Ask an admin of Acme Inc.";
    expect(humanizeError(new ConvexError({ code: "FORBIDDEN", message }))).toMatchObject({
      code: "FORBIDDEN",
      title: "You don't have access to that",
      description: message,
      retryable: false,
    });
    expect(humanizeError(new ConvexError({ code: "FORBIDDEN", message: "" })).description).toBeUndefined();
  });
});
