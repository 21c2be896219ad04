/**
 * A bounded cache that keeps what is in use, by the CLOCK approximation of least-recently-used: a hit
 * only marks its entry, and an insertion into a full cache evicts the first entry, going round, that
 * was not used since the hand last passed it. The usual Map-based LRU (delete and re-insert on every
 * hit, delete the oldest on insert) costs time in proportion to the Map's size in V8 — microseconds
 * per lookup at a few thousand entries — which a statement on the tunnel's hot path cannot afford.
 */
export class RecentlyUsed<K, V> {
  private readonly slots = new Map<K, number>();
  private readonly keys: K[] = [];
  private readonly values: V[] = [];
  private readonly used: Uint8Array;
  private hand = 0;

  constructor(readonly capacity: number) {
    this.used = new Uint8Array(Math.max(0, capacity));
  }

  get size(): number {
    return this.slots.size;
  }

  get(key: K): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.used[slot] = 1;
    return this.values[slot];
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    const existing = this.slots.get(key);
    if (existing !== undefined) {
      this.values[existing] = value;
      this.used[existing] = 1;
      return;
    }
    let slot = this.keys.length;
    if (slot < this.capacity) {
      this.keys.push(key);
      this.values.push(value);
    } else {
      while (this.used[this.hand] === 1) {
        this.used[this.hand] = 0;
        this.hand = (this.hand + 1) % this.capacity;
      }
      slot = this.hand;
      this.hand = (this.hand + 1) % this.capacity;
      this.slots.delete(this.keys[slot]!);
      this.keys[slot] = key;
      this.values[slot] = value;
    }
    this.slots.set(key, slot);
  }
}
