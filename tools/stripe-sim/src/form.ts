/**
 * Stripe's request encoding: `application/x-www-form-urlencoded` bodies (and
 * query strings for GET/DELETE) with bracketed keys for nesting, as produced
 * by stripe-node's `stringifyRequestData` and by `qs`:
 *
 *   line_items[0][price]=price_1&metadata[accountId]=a1&expand[]=customer
 *
 * decodes to `{ line_items: [{ price: "price_1" }], metadata: { accountId: "a1" },
 * expand: ["customer"] }`. Values stay strings; each route coerces what it
 * reads (`num`, `bool`). An empty string is Stripe's "unset this field".
 */

export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormObject = { [key: string]: FormValue };

/** Splits `a[b][0][]` into `["a", "b", "0", ""]`. */
function splitKey(key: string): string[] {
  const first = key.indexOf("[");
  if (first < 0) return [key];
  const parts = [key.slice(0, first)];
  const re = /\[([^\]]*)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(key.slice(first))) !== null) parts.push(m[1] ?? "");
  return parts;
}

type Node = { [key: string]: Node | string } ;

/** Turns objects whose keys are all array indexes into arrays (except under `metadata`). */
function finalize(node: Node | string, parentKey: string): FormValue {
  if (typeof node === "string") return node;
  const keys = Object.keys(node);
  const isArray =
    parentKey !== "metadata" && keys.length > 0 && keys.every((k) => /^\d+$/.test(k));
  if (isArray) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => finalize(node[String(k)] as Node | string, ""));
  }
  const out: FormObject = {};
  for (const k of keys) out[k] = finalize(node[k] as Node | string, k);
  return out;
}

/** Decodes a form body or query string into a nested object. */
export function parseForm(body: string): FormObject {
  const root: Node = {};
  const params = new URLSearchParams(body);
  for (const [rawKey, value] of params) {
    const parts = splitKey(rawKey);
    let node: Node = root;
    for (let i = 0; i < parts.length; i++) {
      let part = parts[i] ?? "";
      const last = i === parts.length - 1;
      // `key[]` appends: use the next free index.
      if (part === "" && i > 0) part = String(Object.keys(node).length);
      if (last) {
        node[part] = value;
      } else {
        const next = node[part];
        if (next === undefined || typeof next === "string") {
          const child: Node = {};
          node[part] = child;
          node = child;
        } else {
          node = next;
        }
      }
    }
  }
  return finalize(root, "") as FormObject;
}

/** Reads a string field; `undefined` when absent or not a string. */
export function str(v: FormValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Reads an integer field (Stripe sends numbers as decimal strings). */
export function int(v: FormValue | undefined): number | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
}

/** Reads a boolean field (`"true"` / `"false"`). */
export function bool(v: FormValue | undefined): boolean | undefined {
  if (v === "true") return true;
  if (v === "false") return false;
  return undefined;
}

/** Reads a nested object field. */
export function obj(v: FormValue | undefined): FormObject | undefined {
  return v !== undefined && typeof v === "object" && !Array.isArray(v) ? v : undefined;
}

/** Reads an array field; a single string becomes a one-element array. */
export function arr(v: FormValue | undefined): FormValue[] {
  if (v === undefined || v === "") return [];
  if (Array.isArray(v)) return v;
  if (typeof v === "object") return Object.values(v);
  return [v];
}

/** Reads an array of strings. */
export function strs(v: FormValue | undefined): string[] {
  return arr(v).filter((x): x is string => typeof x === "string");
}

/** Reads a `metadata` hash: string values only; `""` deletes a key on update. */
export function metadataOf(v: FormValue | undefined): Record<string, string> | undefined {
  const o = obj(v);
  if (!o) return v === "" ? {} : undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) if (typeof val === "string") out[k] = val;
  return out;
}

/** Merges metadata as Stripe does on update: `""` values remove keys. */
export function mergeMetadata(
  current: Record<string, string>,
  update: Record<string, string> | undefined,
  raw: FormValue | undefined,
): Record<string, string> {
  if (update === undefined) return current;
  if (raw === "") return {};
  const out = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === "") delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Stable serialisation of params, for idempotency comparisons. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
}
