/** Test helpers for code that talks to the local backend (`@offline/local-backend/testing`). */

/** Resolves with the first value `subscribe` reports that satisfies `predicate`. */
export function waitFor<T>(
  subscribe: (onValue: (value: T) => void, onError: (e: Error) => void) => () => void,
  predicate: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Unsubscribing inside the callback is fine for ConvexClient, but defer to be safe.
      queueMicrotask(() => unsubscribe());
      fn();
    };
    const unsubscribe: () => void = subscribe(
      (value) => {
        if (predicate(value)) finish(() => resolve(value));
      },
      (e) => finish(() => reject(e)),
    );
  });
}
