/**
 * The server in a browser Web Worker (the playground and VS Code for the Web): the same
 * startServer over postMessage, as Langium does with BrowserMessageReader/Writer.
 */
import { BrowserMessageReader, BrowserMessageWriter, createConnection } from "vscode-languageserver/browser";
import { startServer } from "./server";

declare const self: DedicatedWorkerGlobalScope;

const reader = new BrowserMessageReader(self);
const writer = new BrowserMessageWriter(self);
startServer(createConnection(reader, writer));
