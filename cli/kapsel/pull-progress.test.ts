import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressRenderer } from './pull-progress.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = { isTTY, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

test('not a terminal: one plain line per event that matters, no escape codes', () => {
  const { stream, text } = fakeStream(false);
  const render = progressRenderer(stream);
  render({ kind: 'resolved', name: 'h:1/app:v1', digest: D1, manifestDigest: D1 });
  render({ kind: 'blob', digest: D1, size: 10, state: 'exists', bytes: 10 });
  render({ kind: 'blob', digest: D2, size: 2048, state: 'waiting', bytes: 0 });
  render({ kind: 'blob', digest: D2, size: 2048, state: 'downloading', bytes: 0 });
  render({ kind: 'blob', digest: D2, size: 2048, state: 'downloading', bytes: 1024 });
  render({ kind: 'blob', digest: D2, size: 2048, state: 'done', bytes: 2048 });
  render.finish();
  assert.equal(text(), `h:1/app:v1: resolved to ${D1}\naaaaaaaaaaaa: already exists\nbbbbbbbbbbbb: downloading 2.0 kB\nbbbbbbbbbbbb: done\n`);
});

test('a terminal: a bar per blob, redrawn in place', () => {
  const { stream, text } = fakeStream(true);
  const render = progressRenderer(stream);
  render({ kind: 'blob', digest: D1, size: 100, state: 'waiting', bytes: 0 });
  render({ kind: 'blob', digest: D2, size: 100, state: 'exists', bytes: 100 });
  render({ kind: 'blob', digest: D1, size: 100, state: 'done', bytes: 100 });
  render.finish();
  const out = text();
  assert.match(out, /\x1b\[2A/, 'moves up over the two lines it drew');
  const lastFrame = out.slice(out.lastIndexOf('\x1b[2A'));
  assert.match(lastFrame, /aaaaaaaaaaaa: done 100 B\n/);
  assert.match(lastFrame, /bbbbbbbbbbbb: already exists\n/);
});
