// The agent protocol table and its error reports: which call a path is, and what a report of a
// bad message may show (names and rules from the schema, never a value, no odd key verbatim).
import { describe, expect, it } from 'vitest';
import { AGENT_PROTOCOL, ApplyResult, findAgentEndpoint } from './agent-protocol.js';
import { protocolErrors } from './schema-check.js';

describe('findAgentEndpoint', () => {
  it('finds a call by method and path, with parameters, a query or a trailing slash', () => {
    expect(findAgentEndpoint('GET', 'agent/v1/status')).toBe(AGENT_PROTOCOL.status);
    expect(findAgentEndpoint('PUT', 'agent/v1/config')).toBe(AGENT_PROTOCOL.applyConfig);
    expect(findAgentEndpoint('GET', 'agent/v1/config/')).toBe(AGENT_PROTOCOL.config);
    expect(findAgentEndpoint('GET', 'agent/v1/events?after=3&limit=200')).toBe(AGENT_PROTOCOL.events);
    expect(findAgentEndpoint('PUT', 'agent/v1/connectors/s3/config')).toBe(AGENT_PROTOCOL.configureConnector);
    expect(findAgentEndpoint('DELETE', 'agent/v1/status')).toBeUndefined();
    expect(findAgentEndpoint('GET', 'agent/v1/connectors/s3/config/extra')).toBeUndefined();
    expect(findAgentEndpoint('GET', 'agent/v1/statusx')).toBeUndefined();
  });
});

describe('protocolErrors', () => {
  it('names each field at fault and shows odd keys as *, never a value', () => {
    const answer = {
      revision: 'secret-value-1',
      hash: 'h',
      results: { snmp__enable: { status: 'applied' }, 'a/b\n<x>': { status: 'secret-value-2' } },
    };
    const errors = protocolErrors(ApplyResult, answer, 'answer');
    expect(errors.map((e) => e.field)).toEqual(
      expect.arrayContaining(['answer.revision', 'answer.results.*']),
    );
    expect(JSON.stringify(errors)).not.toMatch(/secret-value|<x>/);
    expect(protocolErrors(ApplyResult, { hash: 'h', results: {} }, 'answer')).toEqual([
      { field: 'answer.revision', message: 'is required' },
    ]);
    expect(protocolErrors(ApplyResult, { revision: 1, hash: 'h', results: {} }, 'answer')).toEqual([]);
  });
});
