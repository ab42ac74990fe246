import { applyEnv } from "./env";

/** Sets `process.env` vars for the duration of `run`, then restores what was there (unset stays unset). */
export async function withEnv<T>(vars: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const restore = applyEnv(vars);
  try {
    return await run();
  } finally {
    restore();
  }
}
