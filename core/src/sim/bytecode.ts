/**
 * The guest bytecode the plan compiles and the interpreter runs: one op per entry of three
 * parallel typed arrays (op, a, f), per source a sequence ending in OP_END.
 */
// Bytecode operations of a guest source.
export const OP_COMPUTE = 0;
/** A whole number of exits: a = exit plan, f = count. */
export const OP_EXIT = 1;
/** Fractional exits per execution (PML: 1/512 per page): a = exit plan, f = exits per execution. */
export const OP_FRACTIONAL_EXIT = 2;
/** a = branch table index. */
export const OP_BRANCH = 3;
/** a = target pc. */
export const OP_JUMP = 4;
/** f = count, a = pc after the matching OP_REPEAT_END. */
export const OP_REPEAT = 5;
/** a = pc of the matching OP_REPEAT. */
export const OP_REPEAT_END = 6;
/** a = pc after the matching OP_TSX_END. */
export const OP_TSX = 7;
export const OP_TSX_END = 8;
/** f = spin cycles, a = PLE exit plan (−1: PAUSE-loop exiting not in force). */
export const OP_PAUSE_LOOP = 9;
export const OP_END = 10;
/**
 * `coalesce N or T`: f = coalesce site, a = pc after the body (which follows inline). Counts the
 * execution on the vCPU; the N-th runs the body (and cancels the timeout), the first of a batch
 * arms the timeout (the site's flush source "arrives" then), the others skip the body.
 */
export const OP_COALESCE = 11;
