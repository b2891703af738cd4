// Upcasting: old payload versions are migrated on read, one version step at a time, so stored
// events stay byte-for-byte what was sealed while the domain code only sees current versions.
import { CimError } from '../errors.js';
import type { EventEnvelope, Payload } from './envelope.js';

export type Migrate = (payload: Payload) => Payload;

export class UpcasterRegistry {
  private readonly steps = new Map<string, Migrate>();

  /** Registers the migration of `type` from `fromVersion` to `fromVersion + 1`. */
  register(type: string, fromVersion: number, migrate: Migrate): this {
    const key = `${type}@${fromVersion}`;
    if (this.steps.has(key)) throw new CimError('CIM-INVALID-INPUT', `an upcaster for ${key} is already registered`);
    this.steps.set(key, migrate);
    return this;
  }

  /** The envelope as the current code expects it; the same object when nothing applies. */
  upcast<P extends Payload>(envelope: EventEnvelope<P>): EventEnvelope {
    if (this.steps.size === 0) return envelope;
    let payload: Payload = envelope.payload;
    let version = envelope.typeVersion;
    for (
      let step = this.steps.get(`${envelope.type}@${version}`);
      step;
      step = this.steps.get(`${envelope.type}@${version}`)
    ) {
      payload = step(payload);
      version++;
    }
    return version === envelope.typeVersion ? envelope : { ...envelope, payload, typeVersion: version };
  }
}
