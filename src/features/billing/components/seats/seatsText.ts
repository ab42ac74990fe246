/** "1 seat" / "3 seats". */
export function seatsLabel(n: number): string {
  return `${n} ${n === 1 ? "seat" : "seats"}`;
}

/** "1 member" / "3 members". */
export function membersLabel(n: number): string {
  return `${n} ${n === 1 ? "member" : "members"}`;
}

/** The seats card's anchor on /billing (`/billing#seats`), where the "add seats" prompts link. */
export const SEATS_ANCHOR = "seats";

/** A fresh id for one confirm dialog (`seats.change` `requestId`: 1–64 of `[A-Za-z0-9_-]`). */
export function newRequestId(): string {
  const random = typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  return `seats-${random}`.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 64);
}
