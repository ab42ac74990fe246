/** Helpers shared by the `/v1` route modules: params, `expand[]`, lists. */
import type { SimContext } from "../context.ts";
import { paramMissing } from "../errors.ts";
import { paginate, render, type ListParams } from "../expand.ts";
import { int, obj, str, strs, type FormObject } from "../form.ts";
import { json, type SimRequest, type SimResponse } from "../router.ts";

export function params(req: SimRequest): FormObject {
  return req.method === "POST" ? req.body : req.query;
}

export function expandOf(req: SimRequest): string[] {
  return strs(params(req).expand);
}

export function listParams(req: SimRequest): ListParams {
  const q = req.query;
  return { limit: int(q.limit), starting_after: str(q.starting_after), ending_before: str(q.ending_before) };
}

/** Applies Stripe's `created[gt|gte|lt|lte]` (or exact `created`) filter. */
export function createdFilter(q: FormObject): (created: number) => boolean {
  const exact = int(q.created);
  const range = obj(q.created);
  return (c) => {
    if (exact !== undefined) return c === exact;
    if (!range) return true;
    const gt = int(range.gt), gte = int(range.gte), lt = int(range.lt), lte = int(range.lte);
    return (gt === undefined || c > gt) && (gte === undefined || c >= gte) && (lt === undefined || c < lt) && (lte === undefined || c <= lte);
  };
}

export function requireStr(p: FormObject, key: string): string {
  const v = str(p[key]);
  if (!v) throw paramMissing(key);
  return v;
}

/** `ok` (200 JSON), `one` (an object rendered with `expand[]`), `list` (paginated and expanded). */
export function responders(ctx: SimContext) {
  const ok = (value: unknown): SimResponse => json(200, value);
  const one = <T>(req: SimRequest, value: T): SimResponse => ok(render(ctx, value, expandOf(req)));
  const list = <T extends { id: string }>(req: SimRequest, items: T[], url: string): SimResponse =>
    ok(render(ctx, paginate(items, listParams(req), url), expandOf(req)));
  return { ok, one, list };
}
