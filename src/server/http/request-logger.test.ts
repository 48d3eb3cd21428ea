import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LOG_REDACTION, requestLoggerFactory } from './conventions.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = pino({ level, redact: LOG_REDACTION }, stream) as unknown as FastifyBaseLogger;
  return { logger, lines };
}

const settle = () => new Promise((r) => setImmediate(r));

type Logger = FastifyBaseLogger & {
  bindings(): Record<string, unknown>;
  isLevelEnabled(level: string): boolean;
};
const make = (parent: FastifyBaseLogger, bindings: Record<string, unknown>, options: { level?: string }) =>
  requestLoggerFactory(parent, bindings, options) as Logger;

describe('the per-request logger', () => {
  it('writes enabled levels with the request id and redaction, and drops the others', async () => {
    const { logger, lines } = capture('info');
    const log = make(logger, { reqId: 'req-1' }, {});
    log.debug('not written');
    log.info({ body: { token: 'secret-value' } }, 'written');
    log.warn('also written');
    await settle();
    expect(lines.map((l) => l.msg)).toEqual(['written', 'also written']);
    expect(lines[0]).toMatchObject({ reqId: 'req-1', body: { token: '[REDACTED]' }, level: 30 });
    expect(log.bindings()).toMatchObject({ reqId: 'req-1' });
  });

  it('makes no pino child while nothing is logged at an enabled level', () => {
    const { logger } = capture('warn');
    const child = vi.spyOn(logger, 'child');
    const log = make(logger, { reqId: 'req-2' }, {});
    log.info('request completed');
    log.debug('nothing');
    expect(child).not.toHaveBeenCalled();
    log.error('boom');
    expect(child).toHaveBeenCalledTimes(1);
    log.error('again');
    expect(child).toHaveBeenCalledTimes(1);
  });

  it('honours a route-level log level in both directions', async () => {
    const { logger, lines } = capture('info');
    const quiet = make(logger, { reqId: 'probe' }, { level: 'warn' });
    quiet.info('probe answered');
    const verbose = make(logger, { reqId: 'debugged' }, { level: 'debug' });
    expect(verbose.isLevelEnabled('debug')).toBe(true);
    verbose.debug('details');
    await settle();
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([['debugged', 'details']]);
  });
});
