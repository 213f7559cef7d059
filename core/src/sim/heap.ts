/**
 * An indexed binary min-heap of event times: a fixed set of slots (one per vCPU, per arrival
 * stream, …), each with at most one pending time. Updating a slot's time moves it in place, so
 * the simulator reschedules a vCPU whose compute was interrupted without tombstones, and
 * nothing is allocated per event.
 */
export class EventHeap {
  /** Pending time of each slot (meaningful while the slot is in the heap). */
  readonly time: Float64Array;
  /** Heap order: slot ids. */
  private readonly heap: Int32Array;
  /** Position of each slot in `heap`, −1 when not scheduled. */
  private readonly position: Int32Array;
  size = 0;

  constructor(slots: number) {
    this.time = new Float64Array(slots);
    this.heap = new Int32Array(slots);
    this.position = new Int32Array(slots).fill(-1);
  }

  isScheduled(slot: number): boolean {
    return this.position[slot] >= 0;
  }

  /** Schedules or reschedules `slot` at time `t`. */
  set(slot: number, t: number): void {
    const pos = this.position[slot];
    if (pos < 0) {
      const i = this.size++;
      this.heap[i] = slot;
      this.position[slot] = i;
      this.time[slot] = t;
      this.siftUp(i);
      return;
    }
    const old = this.time[slot];
    this.time[slot] = t;
    if (t < old) this.siftUp(pos);
    else this.siftDown(pos);
  }

  remove(slot: number): void {
    const pos = this.position[slot];
    if (pos < 0) return;
    this.position[slot] = -1;
    const last = --this.size;
    if (pos === last) return;
    const moved = this.heap[last];
    this.heap[pos] = moved;
    this.position[moved] = pos;
    this.siftDown(pos);
    this.siftUp(this.position[moved]);
  }

  /** The slot with the earliest time; only valid when size > 0. */
  peek(): number {
    return this.heap[0];
  }

  pop(): number {
    const top = this.heap[0];
    this.remove(top);
    return top;
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const time = this.time;
    const position = this.position;
    const slot = heap[i];
    const t = time[slot];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const ps = heap[parent];
      // Ties break by slot id so that runs are reproducible regardless of insertion history.
      if (time[ps] < t || (time[ps] === t && ps < slot)) break;
      heap[i] = ps;
      position[ps] = i;
      i = parent;
    }
    heap[i] = slot;
    position[slot] = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const time = this.time;
    const position = this.position;
    const n = this.size;
    const slot = heap[i];
    const t = time[slot];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      let child = left;
      let cs = heap[left];
      let ct = time[cs];
      const right = left + 1;
      if (right < n) {
        const rs = heap[right];
        const rt = time[rs];
        if (rt < ct || (rt === ct && rs < cs)) {
          child = right;
          cs = rs;
          ct = rt;
        }
      }
      if (t < ct || (t === ct && slot < cs)) break;
      heap[i] = cs;
      position[cs] = i;
      i = child;
    }
    heap[i] = slot;
    position[slot] = i;
  }
}
