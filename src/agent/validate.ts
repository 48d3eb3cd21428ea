// What the agent receives is checked against the agent protocol (contract/agent-protocol.ts)
// before a handler reads it: a bad request is a 400 naming each field at fault. The agent's own
// error answers (this one, and those of the HTTP framework) all take the protocol's error shape.

import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { Static, TSchema } from 'typebox';
import type { AgentError } from '../contract/agent-protocol.js';
import { protocolErrors, protocolErrorText } from '../contract/schema-check.js';

export function sendError(reply: FastifyReply, status: number, answer: AgentError): FastifyReply {
  return reply.code(status).type('application/json').send(answer);
}

/**
 * True when `value` (the body or the query) matches `schema`; otherwise the 400 is sent and the
 * handler returns the reply.
 */
export function accepts<T extends TSchema>(
  reply: FastifyReply,
  schema: T,
  value: unknown,
  where: 'body' | 'query',
): value is Static<T> {
  const errors = protocolErrors(schema, value, where);
  if (errors.length === 0) return true;
  sendError(reply, 400, { code: 'validation_failed', detail: protocolErrorText(errors), errors });
  return false;
}

/** Unknown routes, unreadable bodies and failures answer in the protocol's error shape too. */
export function protocolErrorAnswers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, { code: 'not_found', detail: `no ${request.method} ${request.url.split('?')[0]}` }),
  );
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      // Logged here, never sent: the manager passes an agent's detail on to its callers.
      request.log.error({ err }, 'agent request failed');
      return sendError(reply, status, { code: 'internal', detail: 'the agent failed to answer' });
    }
    const code =
      status === 400
        ? 'validation_failed'
        : status === 413
          ? 'payload_too_large'
          : status === 415
            ? 'unsupported_media_type'
            : 'bad_request';
    return sendError(reply, status, { code, detail: err.message });
  });
}
