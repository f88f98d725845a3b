/**
 * The chaos soak's clock jumps come from outside the companion: libfaketime
 * preloaded into a real Node process (scripts/chaos/faketime.ts). Its check
 * must pass here, and must fail when the preload is missing or when the
 * monotonic clock would jump too (every pending timer firing at once).
 */
import { describe, expect, it } from 'vitest';
import { check, faketimeEnv, findLibfaketime } from '../../../scripts/chaos/faketime.ts';

describe('the soak clock (libfaketime)', () => {
  const lib = findLibfaketime();

  it('is on this machine (tests/machine.ts installs Debian\'s faketime)', () => {
    expect(lib).toMatch(/libfaketime\.so\.1$/);
  });

  it('moves Date.now() of a real Node process an hour ahead, and neither its monotonic clock nor its timers', () => {
    expect(check(faketimeEnv(lib!, '/nonexistent'))).toBeNull();
  });

  it('says so when nothing is preloaded', () => {
    expect(check({ ...faketimeEnv(lib!, '/nonexistent'), LD_PRELOAD: '' })).toMatch(/Date\.now\(\) did not jump/);
  });

  it('says so when the monotonic clock would jump too', () => {
    expect(check({ ...faketimeEnv(lib!, '/nonexistent'), FAKETIME_DONT_FAKE_MONOTONIC: '0' })).toMatch(/monotonic clock jumped too/);
  });
});
