import { useCallback, useEffect, useRef, useState } from "react";
import type { HumanError } from "@/src/lib/errors";

/**
 * The pending state shared by the buttons that fetch a Stripe URL and leave
 * the page (checkout, portal, top-up): one attempt at a time, keyed by what
 * was clicked.
 *
 * A redirect leaves its button "Redirecting…" on purpose until the page
 * unloads. A page the browser brings back from the back/forward cache
 * (`pageshow` with `persisted`, e.g. Back from Stripe Checkout) never
 * unloaded, so the pending state is cleared then or the button stays
 * disabled for good.
 * https://web.dev/articles/bfcache#observe-when-a-page-is-restored-from-bfcache
 */
export function useRedirectPending<K>() {
  const [pending, setPending] = useState<K | null>(null);
  const inFlight = useRef(false);

  /** Marks `key` pending; false (and nothing changes) while another attempt is in flight. */
  const begin = useCallback((key: K): boolean => {
    if (inFlight.current) return false;
    inFlight.current = true;
    setPending(key);
    return true;
  }, []);

  /** Ends the attempt (it failed, or the page came back). */
  const end = useCallback(() => {
    inFlight.current = false;
    setPending(null);
  }, []);

  useEffect(() => {
    const onPageShow = (event: PageTransitionEvent) => {
      if (event.persisted) end();
    };
    window.addEventListener("pageshow", onPageShow);
    return () => window.removeEventListener("pageshow", onPageShow);
  }, [end]);

  return { pending, begin, end };
}

/** The toast action for a failed redirect: Retry when the connection dropped. */
export function retryAction(human: HumanError, retry: () => void): { label: string; onClick: () => void } | undefined {
  return human.code === "NETWORK" ? { label: "Retry", onClick: retry } : undefined;
}
