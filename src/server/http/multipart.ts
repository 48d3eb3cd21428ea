// multipart/form-data for the routes that take it, and only for them.
//
// @fastify/multipart adds an async onRequest and an async onResponse hook (a promise each, for
// the clean-up of saved temporary files) to every route of the scope it is registered in.
// Registered on a whole module, it made every route of that module pay for them on every
// request, reads included (whoami among them). Wrapping a plugin with `withMultipart` gives it
// a scope of its own: its routes parse forms, the others keep JSON only (a form sent to them is a
// 415 like any other unsupported type).

import multipart, {
  type FastifyMultipartAttachFieldsToBodyOptions,
  type FastifyMultipartOptions,
} from '@fastify/multipart';
import type { FastifyPluginAsync } from 'fastify';

/** `routes` in a scope of its own that parses multipart/form-data with `options`. */
export function withMultipart<Options extends object>(
  routes: FastifyPluginAsync<Options>,
  options: FastifyMultipartOptions | FastifyMultipartAttachFieldsToBodyOptions,
): FastifyPluginAsync<Options> {
  return async (app, opts) => {
    await app.register(multipart, options);
    await app.register(routes, opts);
  };
}
