/** Generated container names, adjective_noun as docker makes them, with an id suffix to stay unique. */
const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'quiet', 'sharp', 'tidy', 'vivid', 'witty'];
const NOUNS = ['otter', 'heron', 'lynx', 'marten', 'badger', 'ibis', 'wren', 'stoat', 'puffin', 'gecko', 'tapir', 'vole'];

export function randomName(id: string): string {
  const a = ADJECTIVES[parseInt(id.slice(0, 2), 16) % ADJECTIVES.length]!;
  const n = NOUNS[parseInt(id.slice(2, 4), 16) % NOUNS.length]!;
  return `${a}_${n}_${id.slice(4, 8)}`;
}
