export * from "./ast";
export { CONTEXT_NOUN, STATEMENTS, type StatementShape, TOP_LEVEL_KEYWORDS } from "./grammar";
export { integerValue, type LexResult, lex, type Token, type TokenKind } from "./lexer";
export { nodePathAt } from "./nodePath";
export { MAX_BLOCK_DEPTH, type ParseResult, parse, parseDeclarations } from "./parser";
export { closestMatch, editDistance } from "./suggest";
export * from "./units";
