import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.host).toBe('0.0.0.0');
    expect(c.port).toBe(8443);
    expect(c.tls).toBe(true);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
    expect(c.uploadMaxFileBytes).toBe(4 * 1024 ** 3);
    expect(c.uploadMaxChunkBytes).toBe(64 * 1024 ** 2);
    expect(c.fileQuotaBytes).toBe(10 * 1024 ** 3);
  });

  it('reads upload limits and the file quota, refusing nonsense', () => {
    const c = loadConfig({ STEWARD_UPLOAD_MAX_FILE_BYTES: '2048', STEWARD_FILE_QUOTA_BYTES: '0' });
    expect(c.uploadMaxFileBytes).toBe(2048);
    expect(c.fileQuotaBytes).toBe(0);
    expect(() => loadConfig({ STEWARD_UPLOAD_MAX_CHUNK_BYTES: '64M' })).toThrow(
      /STEWARD_UPLOAD_MAX_CHUNK_BYTES/,
    );
    expect(() => loadConfig({ STEWARD_UPLOAD_MAX_FILE_BYTES: '10' })).toThrow(
      /STEWARD_UPLOAD_MAX_FILE_BYTES/,
    );
  });

  it('reads the appliance networks, naming a bad entry', () => {
    expect(loadConfig({}).applianceNetworks).toBeUndefined();
    expect(loadConfig({ STEWARD_APPLIANCE_NETWORKS: '10.0.0.0/8, 2001:db8::/32' }).applianceNetworks).toBe(
      '10.0.0.0/8, 2001:db8::/32',
    );
    expect(loadConfig({}, { applianceNetworks: '192.0.2.0/24' }).applianceNetworks).toBe('192.0.2.0/24');
    expect(() => loadConfig({ STEWARD_APPLIANCE_NETWORKS: '10.0.0.0/8, intranet' })).toThrow(
      /STEWARD_APPLIANCE_NETWORKS: .*"intranet"/,
    );
  });

  it('names every bad variable in one error, without echoing secrets', () => {
    let err: unknown;
    try {
      loadConfig({
        STEWARD_PORT: '99999',
        STEWARD_TLS: 'maybe',
        STEWARD_DATABASE_URL: 'mysql://u:hunter2@db/x',
        STEWARD_LOG_LEVEL: 'loud',
        STEWARD_TLS_CERT: '/x.crt',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of [
      'STEWARD_PORT',
      'STEWARD_TLS:',
      'STEWARD_DATABASE_URL',
      'STEWARD_LOG_LEVEL',
      'STEWARD_TLS_KEY',
    ]) {
      expect(msg).toContain(name);
    }
    expect(msg).not.toContain('hunter2');
    expect((err as ConfigError).problems).toHaveLength(5);
  });

  it('lets flags override the environment', () => {
    const c = loadConfig({ STEWARD_PORT: '1000' }, { port: '2000', tls: 'off' });
    expect(c.port).toBe(2000);
    expect(c.tls).toBe(false);
  });
});
