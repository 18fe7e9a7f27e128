/**
 * /etc/passwd and /etc/group of an image (passwd(5), group(5)), parsed here rather than through
 * the host's NSS: an image's users are the image's. Pure. Comment, blank, NIS (`+`/`-`) and
 * malformed lines (a non-numeric id) are skipped, as libc's parser skips them.
 */

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

const ID = /^[0-9]+$/;

function lines(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('+') && !l.startsWith('-'))
    .map((l) => l.split(':'));
}

/** `name:password:uid:gid:gecos:home:shell` lines. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const [name = '', , uid = '', gid = '', , home = '', shell = ''] of lines(text)) {
    if (name === '' || !ID.test(uid) || !ID.test(gid)) continue;
    out.push({ name, uid: Number(uid), gid: Number(gid), home, shell });
  }
  return out;
}

/** `name:password:gid:member,member` lines. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const [name = '', , gid = '', members = ''] of lines(text)) {
    if (name === '' || !ID.test(gid)) continue;
    out.push({ name, gid: Number(gid), members: members.split(',').map((m) => m.trim()).filter((m) => m !== '') });
  }
  return out;
}
