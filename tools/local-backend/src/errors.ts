/**
 * How function failures reach clients, matching what the Convex client expects:
 * a message string, plus `errorData` (Convex JSON) only for a `ConvexError`.
 * For an ordinary error the field is left out entirely: the client turns any
 * present `errorData`, even `null`, into a `ConvexError`.
 */
import { convexToJson, type JSONValue, type Value } from "convex/values";

export type FunctionFailure = { errorMessage: string; errorData?: JSONValue };

let nextRequest = 0;
/** A request id for error messages, in the `[Request ID: …]` style of a deployment. */
export function newRequestId(): string {
  nextRequest += 1;
  return `local-${Date.now().toString(36)}-${nextRequest}`;
}

function isConvexError(e: unknown): e is Error & { data: Value } {
  return typeof e === "object" && e !== null && Symbol.for("ConvexError") in e;
}

/** Converts a thrown value into the wire shape, in the message format of a dev deployment. */
export function describeFailure(e: unknown, requestId = newRequestId()): FunctionFailure {
  if (isConvexError(e)) {
    return {
      errorMessage: `[Request ID: ${requestId}] Server Error\nUncaught ConvexError: ${e.message}`,
      errorData: convexToJson(e.data ?? null),
    };
  }
  const name = e instanceof Error ? e.name : "Error";
  const message = e instanceof Error ? e.message : String(e);
  return { errorMessage: `[Request ID: ${requestId}] Server Error\nUncaught ${name}: ${message}` };
}

/** The message a deployment gives for a path that is not a public function of that kind. */
export function notFoundMessage(udfPath: string): string {
  return `Could not find public function for '${udfPath}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`;
}
