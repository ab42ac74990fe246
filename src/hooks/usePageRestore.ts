import { useEffect, useRef } from "react";

/**
 * Calls `onRestore` when the browser brings this page back from the
 * back/forward cache (`pageshow` with `persisted`), e.g. after Back from
 * Stripe Checkout. A redirect leaves its button "Redirecting…" on purpose
 * until the page unloads; a restored page never unloaded, so the pending
 * state has to be cleared or the button stays disabled for good.
 * https://web.dev/articles/bfcache#observe-when-a-page-is-restored-from-bfcache
 */
export function usePageRestore(onRestore: () => void): void {
  const callback = useRef(onRestore);
  useEffect(() => {
    callback.current = onRestore;
  }, [onRestore]);
  useEffect(() => {
    const onPageShow = (event: PageTransitionEvent) => {
      if (event.persisted) callback.current();
    };
    window.addEventListener("pageshow", onPageShow);
    return () => window.removeEventListener("pageshow", onPageShow);
  }, []);
}
