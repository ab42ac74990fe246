/**
 * `/v1/test_helpers/test_clocks`: create, retrieve, list, advance, delete.
 */
import { buildTestClock } from "../../builders.ts";
import { advanceClock } from "../../clock.ts";
import type { SimContext } from "../../context.ts";
import { found, paramMissing } from "../../errors.ts";
import { emit } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { int, str } from "../../form.ts";
import type { Router } from "../../router.ts";
import { responders } from "../common.ts";

export function registerTestClockRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { ok, one, list } = responders(ctx);
  router.on("POST", "/v1/test_helpers/test_clocks", (req) => {
    const frozen = int(req.body.frozen_time);
    if (frozen === undefined) throw paramMissing("frozen_time");
    const clock = buildTestClock({ created: ctx.store.realNow(), frozenTime: frozen, name: str(req.body.name) ?? null });
    state().testClocks[clock.id] = clock;
    emit(ctx, "test_helpers.test_clock.created", clock);
    return one(req, clock);
  });
  router.on("GET", "/v1/test_helpers/test_clocks/:id", (req) => {
    const clock = found(state().testClocks[req.params.id ?? ""], "test_helpers.test_clock", req.params.id ?? "", "test_clock");
    return one(req, clock);
  });
  router.on("GET", "/v1/test_helpers/test_clocks", (req) =>
    list(req, newestFirst(Object.values(state().testClocks)), "/v1/test_helpers/test_clocks"),
  );
  router.on("POST", "/v1/test_helpers/test_clocks/:id/advance", (req) => {
    const frozen = int(req.body.frozen_time);
    if (frozen === undefined) throw paramMissing("frozen_time");
    return one(req, advanceClock(ctx, req.params.id ?? "", frozen));
  });
  router.on("DELETE", "/v1/test_helpers/test_clocks/:id", (req) => {
    const clock = found(state().testClocks[req.params.id ?? ""], "test_helpers.test_clock", req.params.id ?? "", "test_clock");
    delete state().testClocks[clock.id];
    emit(ctx, "test_helpers.test_clock.deleted", clock);
    return ok({ id: clock.id, object: "test_helpers.test_clock", deleted: true });
  });
}
