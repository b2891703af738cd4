// A fix for nats.js 2.29 (the `nats` package), applied once on import: after a request's reply
// has settled it, `RequestOne.resolver` calls `cancel()`, which builds a "Cancelled" NatsError —
// with a captured stack — only for the already settled promise to ignore it. On the event store's
// hot path (every JetStream publish ack, every group-commit batch) that was 9 % of the client's CPU
// and a share of its garbage collection. The patch skips building the error when the reply is
// already in; a request cancelled before its reply (a timeout, a drain) is rejected as before.
import { createRequire } from 'node:module';

interface RequestOneInternals {
  cancel(err?: Error): void;
  resolver(err: Error | null, msg: unknown): void;
  timer?: { cancel(): void };
  mux: { cancel(request: unknown): void };
  /** Set by the patched resolver: the promise is settled, a cancel only cleans up. */
  cimSettled?: boolean;
}

const require = createRequire(import.meta.url);
const { RequestOne } = require('nats/lib/nats-base-client/request.js') as {
  RequestOne: { prototype: RequestOneInternals & { cimPatched?: boolean } };
};

const proto = RequestOne.prototype;
if (!proto.cimPatched) {
  const { cancel, resolver } = proto;
  proto.resolver = function (this: RequestOneInternals, err, msg) {
    this.cimSettled = true;
    resolver.call(this, err, msg);
  };
  proto.cancel = function (this: RequestOneInternals, err?: Error) {
    if (this.cimSettled && err === undefined) {
      this.timer?.cancel();
      this.mux.cancel(this);
      return;
    }
    cancel.call(this, err);
  };
  proto.cimPatched = true;
}

/** Whether the patch is in place (for the test that checks nats.js still has the shape it patches). */
export function natsRequestPatched(): boolean {
  return proto.cimPatched === true && typeof proto.resolver === 'function';
}
