/** The guards' pure parts: who a client is, and how much work a Run is. */
import { describe, expect, it } from 'vitest';
import { workUnits } from '../../../worker/guard/budget';
import { clientAddress } from '../../../worker/guard/client';

describe('clientAddress', () => {
  it('keeps an IPv4 address, and reads IPv6 as its /64 in every spelling', () => {
    expect(clientAddress('198.51.100.7')).toBe('198.51.100.7');
    expect(clientAddress('2001:db8:7:1::1')).toBe('2001:db8:7:1::/64');
    expect(clientAddress('2001:0DB8:0007:0001:ffff:ffff:ffff:ffff')).toBe('2001:db8:7:1::/64');
    expect(clientAddress('[2001:db8::1]')).toBe('2001:db8:0:0::/64');
    expect(clientAddress('::1')).toBe('0:0:0:0::/64');
  });

  it('reads an IPv4-mapped IPv6 address as the IPv4 address', () => {
    expect(clientAddress('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(clientAddress('::ffff:c633:6407')).toBe('198.51.100.7');
  });

  it('leaves anything else as it is (it still names one client)', () => {
    expect(clientAddress('unknown')).toBe('unknown');
    expect(clientAddress('1:2:3')).toBe('1:2:3');
  });
});

describe('workUnits', () => {
  it('is one for a default Run, and grows with steps, images and pixels, never below one', () => {
    expect(workUnits({ steps: 20, samples: 1, width: 1024, height: 1024 })).toBe(1);
    expect(workUnits({ steps: 40, samples: 4, width: 2048, height: 1024 })).toBe(16);
    expect(workUnits({ steps: 1, samples: 1, width: 256, height: 256 })).toBe(1);
  });
});
