// Event ids: UUIDv7 (RFC 9562), time-ordered so ids sort roughly by creation. Within one
// millisecond a counter in rand_a keeps ids from one process strictly increasing.
import { randomFillSync } from 'node:crypto';

const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;
let lastMs = -1;
let counter = 0;
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(now = Date.now()): string {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  if (now > lastMs) {
    lastMs = now;
    counter = pool[poolOffset]! & 0x7f; // random start, room to count up within the millisecond
  } else {
    counter++;
    if (counter > 0xfff) {
      lastMs++; // borrow the next millisecond rather than repeat or go backwards
      counter = 0;
    }
  }
  const ms = lastMs;
  const b = pool.subarray(poolOffset, poolOffset + 10);
  poolOffset += 10;
  const timeHex = ms.toString(16).padStart(12, '0');
  const randA = (0x7000 | counter).toString(16);
  const variant = hex[(b[0]! & 0x3f) | 0x80]! + hex[b[1]!]!;
  let tail = '';
  for (let i = 2; i < 8; i++) tail += hex[b[i]!]!;
  return `${timeHex.slice(0, 8)}-${timeHex.slice(8)}-${randA}-${variant}-${tail}`;
}
