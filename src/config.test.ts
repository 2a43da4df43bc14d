import { describe, expect, it } from 'vitest';
import { operatorConfig } from './cli/operator-command.js';
import { hubbleUsesTls, parseConfig } from './config.js';

describe('operator configuration: flow sources', () => {
  it('needs at least one flow source and names all three', () => {
    expect(() => parseConfig({ identity: 'a' })).toThrow(/no flow source: set flowsPath .* hubbleAddress .* receiverPort/);
    expect(parseConfig({ identity: 'a', flowsPath: '/f' }).flowsPath).toBe('/f');
    expect(parseConfig({ identity: 'a', hubbleAddress: 'relay:80' }).hubbleAddress).toBe('relay:80');
    expect(parseConfig({ identity: 'a', receiverPort: 8443 }).receiverPort).toBe(8443);
  });

  it('refuses half-configured TLS', () => {
    expect(() => parseConfig({ identity: 'a', receiverPort: 8443, receiverCertFile: '/c' })).toThrow(/receiverCertFile and receiverKeyFile go together/);
    expect(() => parseConfig({ identity: 'a', hubbleAddress: 'r:443', hubbleTlsCertFile: '/c' })).toThrow(/mTLS/);
    expect(() => parseConfig({ identity: 'a', flowsPath: '/f', hubbleTlsCaFile: '/ca' })).toThrow(/Hubble TLS settings without hubbleAddress/);
  });

  it('any Hubble TLS setting implies TLS; none means plaintext', () => {
    expect(hubbleUsesTls(parseConfig({ identity: 'a', hubbleAddress: 'r:80' }))).toBe(false);
    expect(hubbleUsesTls(parseConfig({ identity: 'a', hubbleAddress: 'r:443', hubbleTlsServerName: 'ui.hubble-relay.cilium.io' }))).toBe(true);
    expect(hubbleUsesTls(parseConfig({ identity: 'a', hubbleAddress: 'r:443', hubbleTls: true }))).toBe(true);
  });

  it('flags win over HIVEWALL_* variables; empty variables count as unset', () => {
    const env = { HOSTNAME: 'pod-1', HIVEWALL_HUBBLE_ADDRESS: 'env-relay:80', HIVEWALL_RECEIVER_PORT: '8443', HIVEWALL_HUBBLE_TLS: 'true', HIVEWALL_FLOWS_PATH: '' };
    const fromEnv = operatorConfig({}, env);
    expect(fromEnv).toMatchObject({ identity: 'pod-1', hubbleAddress: 'env-relay:80', receiverPort: 8443, hubbleTls: true });
    expect(fromEnv.flowsPath).toBeUndefined();
    expect(operatorConfig({ hubbleAddress: 'flag-relay:80', receiverPort: '9443' }, env)).toMatchObject({ hubbleAddress: 'flag-relay:80', receiverPort: 9443 });
  });

  it('takes pod and Service ranges from --pod-cidr / --service-cidr or HIVEWALL_POD_CIDRS / HIVEWALL_SERVICE_CIDRS, comma-separated, and refuses what is not a CIDR', () => {
    expect(parseConfig({ identity: 'a', flowsPath: '/f' })).toMatchObject({ podCidrs: [], serviceCidrs: [] });
    const env = { HOSTNAME: 'p', HIVEWALL_POD_CIDRS: '10.0.0.0/16, fd00:10::/56', HIVEWALL_SERVICE_CIDRS: '10.96.0.0/12' };
    expect(operatorConfig({ flowsPath: '/f' }, env)).toMatchObject({ podCidrs: ['10.0.0.0/16', 'fd00:10::/56'], serviceCidrs: ['10.96.0.0/12'] });
    expect(operatorConfig({ flowsPath: '/f', podCidr: ['10.1.0.0/16'] }, env).podCidrs).toEqual(['10.1.0.0/16']);
    expect(() => operatorConfig({ flowsPath: '/f', podCidr: ['10.1.0.0'] }, env)).toThrow(/"10.1.0.0" is not a CIDR/);
  });

  it('bounds what a store pass holds: 250,000 inputs by default, from --max-held-inputs or HIVEWALL_MAX_HELD_INPUTS, at least 1', () => {
    expect(parseConfig({ identity: 'a', flowsPath: '/f' }).maxHeldInputs).toBe(250_000);
    expect(operatorConfig({ flowsPath: '/f' }, { HOSTNAME: 'p', HIVEWALL_MAX_HELD_INPUTS: '1000' }).maxHeldInputs).toBe(1000);
    expect(operatorConfig({ flowsPath: '/f', maxHeldInputs: '50' }, { HOSTNAME: 'p', HIVEWALL_MAX_HELD_INPUTS: '1000' }).maxHeldInputs).toBe(50);
    expect(() => parseConfig({ identity: 'a', flowsPath: '/f', maxHeldInputs: 0 })).toThrow(/maxHeldInputs/);
  });
});
