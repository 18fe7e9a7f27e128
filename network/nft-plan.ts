/**
 * kapsel's nftables table as text (pure): a function of every network record, replaced in one
 * atomic batch on each change (`add table; delete table; table {...}`), so a detach or a stale
 * clean-up can never leave a rule behind and kapsel never edits another tool's table.
 * nft(8) "NAT", "FIB EXPRESSIONS", "SETS". iptables-nft keeps its rules in tables `ip filter`/
 * `ip nat`; this table sits beside them.
 *
 *  - prerouting/output (nat): published ports; `fib daddr type local` matches every address of
 *    the host, 127.0.0.1 included (output covers connections from the host itself).
 *  - postrouting (nat): masquerade for non-internal subnets leaving their bridge, for
 *    connections from 127.0.0.0/8 DNAT'ed into a bridge (needs route_localnet on that bridge),
 *    and for hairpin connections (a container to a published port of its own network).
 *  - forward (filter): internal networks reach nothing outside their bridge; networks do not
 *    reach each other's bridges except through a published port (ct status dnat).
 */
import type { NetworkRecord } from './types.js';

const q = (s: string): string => JSON.stringify(s);

/** Name of the table: `kapsel` for the default store, `kapsel_<8 hex>` for another store root. */
export function tableName(storeKey: string | undefined): string {
  return storeKey === undefined ? 'kapsel' : `kapsel_${storeKey}`;
}

/** The batch that replaces the table with the rules for `networks`, or deletes it when there are none. */
export function planNftTable(table: string, networks: readonly NetworkRecord[]): string {
  const head = `add table ip ${table}\ndelete table ip ${table}\n`;
  if (networks.length === 0) return head;
  const ports: string[] = [];
  const post: string[] = [];
  const forward: string[] = [];
  for (const n of networks) {
    post.push(`ip saddr 127.0.0.0/8 oifname ${q(n.bridge)} masquerade`);
    if (n.internal) {
      forward.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`, `oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
      continue;
    }
    post.push(`ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
    // hairpin: a container reaching a published port of its own network through a host address
    // must see the reply come from that address, not straight from the peer
    post.push(`ip saddr ${n.subnet} oifname ${q(n.bridge)} ct status dnat masquerade`);
    for (const a of Object.values(n.attachments)) {
      for (const p of a.ports) {
        const match = p.hostIp === '' || p.hostIp === '0.0.0.0' ? '' : `ip daddr ${p.hostIp} `;
        ports.push(`${match}${p.protocol} dport ${p.hostPort} dnat to ${a.ip}:${p.containerPort} comment ${q(`${n.name} ${a.containerId}`)}`);
      }
    }
  }
  forward.push('ct status dnat accept');
  for (const n of networks) if (!n.internal) forward.push(`iifname ${q(n.bridge)} oifname @bridges oifname != ${q(n.bridge)} drop`);
  const chain = (name: string, hook: string, rules: readonly string[]): string =>
    `  chain ${name} {\n${hook === '' ? '' : `    ${hook}\n`}${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
  return (
    head +
    `table ip ${table} {\n` +
    `  set bridges {\n    type ifname\n    elements = { ${networks.map((n) => q(n.bridge)).join(', ')} }\n  }\n` +
    chain('ports', '', ports) +
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['fib daddr type local jump ports']) +
    chain('output', 'type nat hook output priority -100; policy accept;', ['fib daddr type local jump ports']) +
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', post) +
    chain('forward', 'type filter hook forward priority filter; policy accept;', forward) +
    '}\n'
  );
}
