/** The persisted records of networks and their attachments (JSON under <store>/networks/). */

export interface PortMapping {
  /** Host address to listen on; '' means every host address. */
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
}

export interface Attachment {
  readonly containerId: string;
  readonly ip: string;
  readonly mac: string;
  /** Name of the host end of the veth pair (in the bridge). */
  readonly hostVeth: string;
  /** Name inside the container (eth0, eth1 for a second network). */
  readonly ifname: string;
  readonly netnsPath: string;
  /** dev:ino of the namespace at attach time: a different or missing one means the container is gone. */
  readonly netnsId: string;
  readonly ports: readonly PortMapping[];
  readonly hostname: string;
  readonly aliases: readonly string[];
  /** The file the container sees as /etc/hosts, kept up to date with its peers (optional). */
  readonly hostsPath?: string;
}

export interface NetworkRecord {
  readonly name: string;
  readonly id: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly internal: boolean;
  readonly mtu: number;
  readonly created: string;
  readonly attachments: Record<string, Attachment>;
}
