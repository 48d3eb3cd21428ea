// The logger services and jobs are given: the shape of pino's, which the server passes in
// (`app.log`), without importing the HTTP framework. Tests can pass a recorder.

export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** Drops everything: for tools and tests that have nowhere to log. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
