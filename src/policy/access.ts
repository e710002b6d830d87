/**
 * Who may touch which object. An object belongs to the identity that created or
 * registered it. Others see it only through a configured grant (by identity and Object
 * Group, for named operations) or as a configured administrator. An identity without
 * access gets Item Not Found from every operation, so an object's existence does not leak.
 */
/** The key rotation scheduler's principal (src/rotation/): it acts for each key's owner. */
export const ROTATION_PRINCIPAL = 'kms-rotation';

/** Principals only the server itself acts as: never taken from a client certificate (src/server/auth.ts). */
export const RESERVED_IDENTITIES: ReadonlySet<string> = new Set([ROTATION_PRINCIPAL]);

export interface Principal {
  /** The identity taken from the client certificate (CN by default). */
  readonly id: string;
  /**
   * A server principal acting for an object's owner (the key rotation scheduler, src/rotation/):
   * it may do what that owner may, and the objects it makes belong to that owner. Never set from
   * a client certificate.
   */
  readonly actingFor?: string;
}

export interface AccessGrant {
  /** Identity the grant is for. */
  readonly identity: string;
  /** Object Group the grant covers ("*" for every group, including objects with none). */
  readonly objectGroup: string;
  /** Operation names (spec normalized, e.g. "Get", "Encrypt"), or "*" for all. */
  readonly operations: readonly string[];
}

export interface AccessConfig {
  readonly administrators: readonly string[];
  readonly grants: readonly AccessGrant[];
}

export const DEFAULT_ACCESS: AccessConfig = { administrators: [], grants: [] };

export class AccessPolicy {
  private readonly admins: ReadonlySet<string>;
  constructor(private readonly config: AccessConfig = DEFAULT_ACCESS) {
    this.admins = new Set(config.administrators);
  }

  isAdmin(p: Principal): boolean {
    return this.admins.has(p.id);
  }

  /**
   * The Object Groups through which grants let `p` perform `operation` on others' objects
   * ("*" for every object), for search (Locate): owned objects and these groups are the most `p`
   * can reach; `allows` still decides each object.
   */
  grantedGroups(p: Principal, operation: string): '*' | string[] {
    if (this.admins.has(p.id)) return '*';
    const groups: string[] = [];
    for (const g of this.config.grants) {
      if (g.identity !== p.id || !(g.operations.includes('*') || g.operations.includes(operation))) continue;
      if (g.objectGroup === '*') return '*';
      groups.push(g.objectGroup);
    }
    return groups;
  }

  /** May `p` perform `operation` on an object with this owner and these Object Groups? */
  allows(p: Principal, operation: string, owner: string, objectGroups: readonly string[]): boolean {
    if (p.id === owner || p.actingFor === owner || this.admins.has(p.id)) return true;
    return this.config.grants.some(
      (g) => g.identity === p.id && (g.operations.includes('*') || g.operations.includes(operation)) && (g.objectGroup === '*' || objectGroups.includes(g.objectGroup)),
    );
  }
}
