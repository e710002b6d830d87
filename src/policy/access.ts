/**
 * Who may touch which object. An object belongs to the identity that created or
 * registered it. Others see it only through a configured grant (by identity and Object
 * Group, for named operations) or as a configured administrator. An identity without
 * access gets Item Not Found from every operation, so an object's existence does not leak.
 */
export interface Principal {
  /** The identity taken from the client certificate (CN by default). */
  readonly id: string;
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

  /** May `p` perform `operation` on an object with this owner and these Object Groups? */
  allows(p: Principal, operation: string, owner: string, objectGroups: readonly string[]): boolean {
    if (p.id === owner || this.admins.has(p.id)) return true;
    return this.config.grants.some(
      (g) =>
        g.identity === p.id &&
        (g.operations.includes('*') || g.operations.includes(operation)) &&
        (g.objectGroup === '*' || objectGroups.includes(g.objectGroup)),
    );
  }
}
