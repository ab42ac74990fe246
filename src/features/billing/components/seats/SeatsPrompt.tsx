import { useQuery } from "convex/react";
import { Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { ROUTES } from "@/src/lib/routes";
import { membersLabel, SEATS_ANCHOR, seatsLabel } from "./seatsText";

/**
 * "N members, M seats — add seats": shown to organisation admins while the
 * organisation has more members than the seats it pays for on a plan whose
 * seats admins choose (`seats.view` `overCapacity`, live). Links to the
 * seats card on /billing. Nothing for members, personal accounts, or while
 * the seats cover everyone.
 */
export function SeatsPrompt({ testId = "seats-prompt" }: { testId?: string }) {
  const view = useQuery(api.seats.view);
  if (!view || !view.overCapacity) return null;
  return (
    <div className="banner banner-warning" role="status" data-testid={testId}>
      <div>
        <strong>
          {membersLabel(view.members)}, {seatsLabel(view.seats)}.
        </strong>{" "}
        Add seats so everyone in your organisation is covered by your plan.
      </div>
      <div className="actions">
        <Link className="button button-primary" to={`${ROUTES.billing.path}#${SEATS_ANCHOR}`} data-testid={`${testId}-add`}>
          Add seats
        </Link>
      </div>
    </div>
  );
}
