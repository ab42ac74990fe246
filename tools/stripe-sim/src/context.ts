import type { SimConfig } from "./config.ts";
import type { Delivery } from "./delivery.ts";
import type { Store } from "./store.ts";

/** What every module of the simulator works against. */
export type SimContext = {
  store: Store;
  /** Replaced (not mutated) by `POST /_sim/config`; read it at use. */
  config: SimConfig;
  /** `http://127.0.0.1:<port>`: base of hosted page URLs. */
  baseUrl: string;
  delivery: Delivery;
  /** The API request being served, stamped on events as `event.request`. */
  currentRequest: { id: string | null; idempotency_key: string | null } | null;
  log: (message: string) => void;
};
