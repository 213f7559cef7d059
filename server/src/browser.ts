/**
 * The server in a browser Web Worker (the playground and VS Code for the Web): the same
 * startServer over postMessage, as Langium does with BrowserMessageReader/Writer. There is no
 * file system: a trace the client provides (`trapline/didProvideTrace`, the playground's dropped
 * or pasted trace) stands in for the `measured` paths (server/src/memoryTraces.ts).
 */
import { BrowserMessageReader, BrowserMessageWriter, createConnection } from "vscode-languageserver/browser";
import { startServerWithProvidedTraces } from "./memoryTraces";

declare const self: DedicatedWorkerGlobalScope;

const reader = new BrowserMessageReader(self);
const writer = new BrowserMessageWriter(self);
startServerWithProvidedTraces(createConnection(reader, writer));
