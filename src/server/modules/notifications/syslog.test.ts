// RFC 5424 formatting.
import { describe, expect, it } from 'vitest';
import { formatRfc5424 } from './syslog.js';

describe('formatRfc5424', () => {
  it('formats header, structured data (escaped) and a UTF-8 message', () => {
    const line = formatRfc5424({
      severity: 4,
      msgId: 'auth.login_failed',
      message: 'login failed for "bob" ✓',
      at: new Date('2026-11-24T10:00:00.123Z'),
      data: { user: 'bob"]\\', ip: '192.0.2.1', token_id: null },
    });
    expect(line).toMatch(/^<132>1 2026-11-24T10:00:00\.123Z \S+ steward \d+ auth\.login_failed /);
    expect(line).toContain('[steward@32473 user="bob\\"\\]\\\\" ip="192.0.2.1"]');
    expect(line).not.toContain('token_id');
    expect(line.endsWith('\uFEFFlogin failed for "bob" ✓')).toBe(true);
  });

  it('uses - when there is no structured data, and clamps severity', () => {
    expect(formatRfc5424({ severity: 99, msgId: 'x y', message: 'm' })).toMatch(
      /^<135>1 \S+ \S+ steward \d+ xy - \uFEFFm$/,
    );
  });
});
