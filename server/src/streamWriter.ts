/**
 * A JSON-RPC message writer for Node streams (stdio, sockets) that writes each message at once.
 *
 * vscode-jsonrpc's own StreamMessageWriter queues every message behind a semaphore that starts
 * the next write from `setImmediate`, and writes header and body as two awaited writes. So a
 * `publishDiagnostics` sent right after an analysis is written only after the event loop has
 * turned once — and the first thing the loop runs after an analysis is typically V8's scavenge
 * task for the analysis's young garbage (measured 10–34 ms on a 10,000-line file over stdio,
 * i.e. most of the server's share of edit → diagnostics). Writing synchronously puts the
 * message on the wire before that pause. One `write` call per message (header and body in one
 * string) keeps messages whole and in order without a queue: Node's Writable preserves the order
 * of writes, and nothing can run between the header and the body.
 */
import type { Writable } from "node:stream";
import { AbstractMessageWriter, type Message, type MessageWriter } from "vscode-languageserver/node";

export class ImmediateStreamMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private errorCount = 0;

  constructor(private readonly stream: Writable) {
    super();
    stream.on("error", (error: Error) => this.fireError(error));
    stream.on("close", () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    try {
      const json = JSON.stringify(message);
      const frame = `Content-Length: ${Buffer.byteLength(json, "utf8")}\r\n\r\n${json}`;
      this.stream.write(frame, "utf8", (error) => {
        if (error) this.handleError(error, message);
        else this.errorCount = 0;
      });
      return Promise.resolve();
    } catch (error) {
      this.handleError(error, message);
      return Promise.reject(error);
    }
  }

  end(): void {
    this.stream.end();
  }

  private handleError(error: unknown, message: Message): void {
    this.errorCount++;
    this.fireError(error as Error, message, this.errorCount);
  }
}
