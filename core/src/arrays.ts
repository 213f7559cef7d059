/**
 * `list` with room for exactly its elements. V8 gives an array grown by `push` from `[]` room
 * for at least 17 elements; a program keeps thousands of short lists (a path's operations, a
 * vmcs block's I/O traps) for as long as the document is open, and the young-generation
 * collector copies the unused room along with them. Call it once a list is complete.
 */
export function fitted<T>(list: T[]): T[] {
  return list.length === 0 ? [] : list.slice();
}
