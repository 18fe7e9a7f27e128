import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KapselError } from '../common/errors.js';
import {
  MS_BIND, MS_DIRSYNC, MS_LAZYTIME, MS_MANDLOCK, MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID,
  MS_NOSYMFOLLOW, MS_PRIVATE, MS_RDONLY, MS_REC, MS_RELATIME, MS_REMOUNT, MS_SHARED, MS_SILENT, MS_SLAVE,
  MS_STRICTATIME, MS_SYNCHRONOUS, MS_UNBINDABLE,
} from '../sys/constants.js';
import {
  flagsToAttr, MOUNT_ATTR__ATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_STRICTATIME, parseMountOptions,
} from './mount-options.js';

const parse = (...options: string[]) => parseMountOptions(options, '`/x`');

describe('parseMountOptions: mount(2) flags', () => {
  it('sets each flag option', () => {
    const cases: [string, number][] = [
      ['ro', MS_RDONLY], ['nosuid', MS_NOSUID], ['nodev', MS_NODEV], ['noexec', MS_NOEXEC], ['sync', MS_SYNCHRONOUS],
      ['remount', MS_REMOUNT], ['mand', MS_MANDLOCK], ['dirsync', MS_DIRSYNC], ['nosymfollow', MS_NOSYMFOLLOW],
      ['noatime', MS_NOATIME], ['nodiratime', MS_NODIRATIME], ['bind', MS_BIND], ['rbind', MS_BIND | MS_REC],
      ['silent', MS_SILENT], ['relatime', MS_RELATIME], ['strictatime', MS_STRICTATIME], ['lazytime', MS_LAZYTIME],
    ];
    for (const [opt, flag] of cases) assert.equal(parse(opt).flags, flag, opt);
  });

  it('clears a flag with its opposite, last one wins', () => {
    const pairs: [string, string, number][] = [
      ['ro', 'rw', MS_RDONLY], ['nosuid', 'suid', MS_NOSUID], ['nodev', 'dev', MS_NODEV], ['noexec', 'exec', MS_NOEXEC],
      ['sync', 'async', MS_SYNCHRONOUS], ['noatime', 'atime', MS_NOATIME], ['nodiratime', 'diratime', MS_NODIRATIME],
      ['mand', 'nomand', MS_MANDLOCK], ['relatime', 'norelatime', MS_RELATIME], ['strictatime', 'nostrictatime', MS_STRICTATIME],
      ['lazytime', 'nolazytime', MS_LAZYTIME], ['silent', 'loud', MS_SILENT],
    ];
    for (const [set, clear, flag] of pairs) {
      assert.equal(parse(set, clear).flags, 0, `${set},${clear}`);
      assert.equal(parse(clear, set).flags, flag, `${clear},${set}`);
    }
  });

  it('combines flags and leaves `defaults` neutral', () => {
    const p = parse('nosuid', 'noexec', 'nodev', 'ro', 'defaults');
    assert.equal(p.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
    assert.equal(parse('defaults').flags, 0);
    assert.equal(parse().flags, 0);
  });

  it('keeps flag options out of the data list', () => {
    assert.deepEqual(parse('ro', 'nosuid', 'rbind', 'rprivate', 'rro').data, []);
  });

  it('derives top-level attributes from the flags', () => {
    assert.deepEqual(parse('nosuid', 'noexec', 'nodev', 'ro').attr, {
      set: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV | MOUNT_ATTR_RDONLY,
      clear: 0,
    });
  });
});

describe('parseMountOptions: propagation', () => {
  it('maps each propagation option, recursive ones with MS_REC', () => {
    const cases: [string, number][] = [
      ['private', MS_PRIVATE], ['rprivate', MS_PRIVATE | MS_REC], ['shared', MS_SHARED], ['rshared', MS_SHARED | MS_REC],
      ['slave', MS_SLAVE], ['rslave', MS_SLAVE | MS_REC], ['unbindable', MS_UNBINDABLE], ['runbindable', MS_UNBINDABLE | MS_REC],
    ];
    for (const [opt, prop] of cases) {
      const p = parse(opt);
      assert.equal(p.propagation, prop, opt);
      assert.equal(p.flags, 0, `${opt} is not a mount flag`);
    }
  });

  it('takes the last propagation option and defaults to none', () => {
    assert.equal(parse('rshared', 'rslave').propagation, MS_SLAVE | MS_REC);
    assert.equal(parse('bind', 'ro').propagation, 0);
  });

  it('does not let rbind\'s MS_REC leak into propagation', () => {
    const p = parse('rbind', 'private');
    assert.equal(p.flags, MS_BIND | MS_REC);
    assert.equal(p.propagation, MS_PRIVATE);
  });
});

describe('parseMountOptions: recursive attributes (r* options)', () => {
  it('sets and clears the simple attributes', () => {
    const cases: [string, number, number][] = [
      ['rro', MOUNT_ATTR_RDONLY, 0], ['rrw', 0, MOUNT_ATTR_RDONLY],
      ['rnosuid', MOUNT_ATTR_NOSUID, 0], ['rsuid', 0, MOUNT_ATTR_NOSUID],
      ['rnodev', MOUNT_ATTR_NODEV, 0], ['rdev', 0, MOUNT_ATTR_NODEV],
      ['rnoexec', MOUNT_ATTR_NOEXEC, 0], ['rexec', 0, MOUNT_ATTR_NOEXEC],
      ['rnodiratime', MOUNT_ATTR_NODIRATIME, 0], ['rdiratime', 0, MOUNT_ATTR_NODIRATIME],
      ['rnosymfollow', MOUNT_ATTR_NOSYMFOLLOW, 0], ['rsymfollow', 0, MOUNT_ATTR_NOSYMFOLLOW],
    ];
    for (const [opt, set, clear] of cases) {
      const p = parse(opt);
      assert.deepEqual(p.recursiveAttr, { set, clear }, opt);
      assert.equal(p.flags, 0, `${opt} is not a mount(2) flag`);
      assert.deepEqual(p.attr, { set: 0, clear: 0 }, `${opt} does not touch the top-level attributes`);
    }
  });

  it('lets the later of an opposite pair win', () => {
    assert.deepEqual(parse('rro', 'rrw').recursiveAttr, { set: 0, clear: MOUNT_ATTR_RDONLY });
    assert.deepEqual(parse('rrw', 'rro').recursiveAttr, { set: MOUNT_ATTR_RDONLY, clear: 0 });
    assert.deepEqual(parse('rro', 'rnosuid', 'rnodev').recursiveAttr, {
      set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
      clear: 0,
    });
  });

  it('rrelatime clears the whole atime field (MOUNT_ATTR_RELATIME is 0)', () => {
    assert.deepEqual(parse('rrelatime').recursiveAttr, { set: 0, clear: MOUNT_ATTR__ATIME });
    assert.deepEqual(parse('ratime').recursiveAttr, { set: 0, clear: MOUNT_ATTR__ATIME });
  });

  // mount_setattr(2): "to set an access-time setting, attr_set holds the value and attr_clr must
  // include all of MOUNT_ATTR__ATIME" — otherwise the kernel fails with EINVAL. runc's
  // recAttrFlags does exactly this: set |= NOATIME; clr |= MOUNT_ATTR__ATIME.
  it('rnoatime sets NOATIME with the whole atime field cleared', () => {
    assert.deepEqual(parse('rnoatime').recursiveAttr, { set: MOUNT_ATTR_NOATIME, clear: MOUNT_ATTR__ATIME });
  });

  it('rstrictatime sets STRICTATIME with the whole atime field cleared', () => {
    assert.deepEqual(parse('rstrictatime').recursiveAttr, { set: MOUNT_ATTR_STRICTATIME, clear: MOUNT_ATTR__ATIME });
  });

  it('never asks the kernel for a partial atime clear', () => {
    for (const opt of ['rrelatime', 'rnorelatime', 'rnoatime', 'ratime', 'rstrictatime', 'rnostrictatime']) {
      const clear = parse(opt).recursiveAttr.clear & MOUNT_ATTR__ATIME;
      assert.ok(clear === 0 || clear === MOUNT_ATTR__ATIME, `${opt}: attr_clr atime bits 0x${clear.toString(16)}`);
    }
  });
});

describe('parseMountOptions: filesystem data', () => {
  it('keeps unknown options as fsconfig data, in order', () => {
    const p = parse('nosuid', 'strictatime', 'mode=755', 'size=65536k');
    assert.equal(p.flags, MS_NOSUID | MS_STRICTATIME);
    assert.deepEqual(p.data, ['mode=755', 'size=65536k']);
  });

  it('keeps devpts options from the default spec in order', () => {
    const p = parse('nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5');
    assert.equal(p.flags, MS_NOSUID | MS_NOEXEC);
    assert.deepEqual(p.data, ['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
  });

  it('keeps repeated data options (the filesystem decides which wins)', () => {
    assert.deepEqual(parse('size=1m', 'size=2m').data, ['size=1m', 'size=2m']);
  });

  it('drops crun\'s tmpcopyup', () => {
    assert.deepEqual(parse('tmpcopyup', 'mode=1777').data, ['mode=1777']);
  });

  it('passes option names that are Object.prototype keys through as data', () => {
    assert.deepEqual(parse('constructor', 'toString').data, ['constructor', 'toString']);
  });
});

describe('parseMountOptions: unsupported options', () => {
  it('rejects idmap and ridmap with ERR_UNSUPPORTED, naming the mount', () => {
    for (const opt of ['idmap', 'ridmap']) {
      assert.throws(
        () => parseMountOptions(['rbind', opt], '`/data`'),
        (err: unknown) => {
          assert.ok(err instanceof KapselError);
          assert.equal(err.code, 'ERR_UNSUPPORTED');
          assert.match(err.message, new RegExp(`mount \`/data\`: option \`${opt}\``));
          return true;
        },
      );
    }
  });
});

describe('flagsToAttr', () => {
  it('maps each per-mount flag to its attribute', () => {
    assert.deepEqual(flagsToAttr(0), { set: 0, clear: 0 });
    assert.deepEqual(flagsToAttr(MS_RDONLY), { set: MOUNT_ATTR_RDONLY, clear: 0 });
    assert.deepEqual(flagsToAttr(MS_NOSUID), { set: MOUNT_ATTR_NOSUID, clear: 0 });
    assert.deepEqual(flagsToAttr(MS_NODEV), { set: MOUNT_ATTR_NODEV, clear: 0 });
    assert.deepEqual(flagsToAttr(MS_NOEXEC), { set: MOUNT_ATTR_NOEXEC, clear: 0 });
    assert.deepEqual(flagsToAttr(MS_NODIRATIME), { set: MOUNT_ATTR_NODIRATIME, clear: 0 });
    assert.deepEqual(flagsToAttr(MS_NOSYMFOLLOW), { set: MOUNT_ATTR_NOSYMFOLLOW, clear: 0 });
  });

  it('sets one atime mode and clears the whole atime field with it', () => {
    assert.deepEqual(flagsToAttr(MS_NOATIME), { set: MOUNT_ATTR_NOATIME, clear: MOUNT_ATTR__ATIME });
    assert.deepEqual(flagsToAttr(MS_STRICTATIME), { set: MOUNT_ATTR_STRICTATIME, clear: MOUNT_ATTR__ATIME });
    assert.deepEqual(flagsToAttr(MS_RELATIME), { set: 0, clear: MOUNT_ATTR__ATIME });
    // noatime takes precedence when several are given
    assert.deepEqual(flagsToAttr(MS_NOATIME | MS_STRICTATIME | MS_RELATIME), { set: MOUNT_ATTR_NOATIME, clear: MOUNT_ATTR__ATIME });
  });

  it('ignores flags that are not per-mount attributes', () => {
    assert.deepEqual(flagsToAttr(MS_BIND | MS_REC | MS_REMOUNT | MS_SYNCHRONOUS | MS_SILENT), { set: 0, clear: 0 });
  });

  it('matches what parseMountOptions puts in attr', () => {
    const p = parse('ro', 'nosuid', 'nodev', 'noexec', 'relatime');
    assert.deepEqual(p.attr, flagsToAttr(p.flags));
    assert.deepEqual(p.attr, { set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, clear: MOUNT_ATTR__ATIME });
  });
});
