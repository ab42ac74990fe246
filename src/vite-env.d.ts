/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Convex deployment URL. Defaults to the local backend (http://127.0.0.1:3210) in dev sign-in mode. */
  readonly VITE_CONVEX_URL?: string;
  /** Clerk publishable key. When set, the app signs in with Clerk; otherwise with the local dev issuer. */
  readonly VITE_CLERK_PUBLISHABLE_KEY?: string;
  /** Local dev token issuer (GET /users, POST /token). Defaults to http://127.0.0.1:3212. */
  readonly VITE_DEV_AUTH_URL?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
