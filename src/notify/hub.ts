/**
 * Server-to-client delivery (KMIP 2.x: Set Endpoint Role Client on a connection, 2.1 §6.1.54 and
 * §6.2). A connection whose client asked the server to take the client role becomes a channel:
 * the server sends it Request Messages (Notify, Put) and reads its Response Messages. Events come
 * from changes that stand (the dispatcher publishes them after the response is final, so after
 * their commit and audit record): never from an Undo batch that was rolled back.
 *
 * Rules (docs/async-and-s2c.md):
 * - Who gets what (events.ts): Notify to every channel whose identity may see the object; Put
 *   (the object itself) only to channels of the object's owner. Never to the connection whose
 *   request made the change.
 * - Bounded: each channel has a queue of at most `serverToClient.maxQueue` events; an event that
 *   does not fit is dropped (logged, audited, counted in kms_s2c_messages_total{outcome="dropped"}),
 *   never blocking the request that caused it. One message is in flight per channel.
 * - A message not answered within `serverToClient.responseTimeoutMs` (or answered with a failure)
 *   is sent again after `serverToClient.retryBaseMs` × 2^(attempt-1), up to
 *   `serverToClient.maxAttempts` attempts; then it is given up (logged, audited, counted).
 * - Every delivery is audited (op Notify / Put, the uid, the subscriber's identity, the outcome;
 *   never key material) and counted.
 * - Query lists Notify and Put to a client when the server can send them to it: the feature is
 *   on (`serverToClient.enabled`) and either the client speaks KMIP 2.x (where Set Endpoint Role
 *   exists) or an endpoint is configured for its identity (`serverToClient.endpoints`, any
 *   version: the server connects to it, endpoint-channel.ts).
 * - Channels live on this node; a cluster peer's changes are not seen here.
 */
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { Operation, ResultStatus } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { CommittedChange, ServerServices, ServerToClientSink } from '../operations/context.js';
import type { Principal } from '../policy/access.js';
import { objectGroups } from '../operations/service/object-service.js';
import type { AuditEvent } from '../audit/record.js';
import { eventsOf, notifyPayload, putPayload, s2cRequest, type S2cEvent } from './events.js';
import { EndpointChannel } from './endpoint-channel.js';

export { DEFAULT_SERVER_TO_CLIENT, parseServerToClient, SERVER_TO_CLIENT_ENV_KEYS, type ServerToClientConfig } from '../config/server-to-client.js';
import type { ServerToClientConfig } from '../config/server-to-client.js';
export type { S2cChannel } from './channel.js';
import type { S2cChannel } from './channel.js';

interface Subscriber {
  readonly channel: S2cChannel;
  readonly queue: S2cEvent[];
  busy: boolean;
}

type Outcome = 'sent' | 'failed' | 'dropped';

export class ServerToClientHub implements ServerToClientSink {
  private readonly subscribers = new Map<string, Subscriber>();
  private readonly counter: Counter<'operation' | 'outcome'> | undefined;
  private readonly log: Logger;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly endpoints: readonly EndpointChannel[];
  /** Per outcome, since start (also in the metric when metrics are on). */
  readonly counts: Record<Outcome, number> = { sent: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly services: ServerServices,
    readonly config: ServerToClientConfig,
  ) {
    this.log = services.log.child({ component: 's2c' });
    this.counter = services.metrics
      ? new Counter({
          name: 'kms_s2c_messages_total',
          help: 'Server-to-client messages (Notify, Put) by outcome: sent, failed (given up after retries), dropped (queue full)',
          labelNames: ['operation', 'outcome'],
          registers: [services.metrics.registry],
        })
      : undefined;
    this.endpoints = config.enabled ? (config.endpoints ?? []).map((e) => new EndpointChannel(e)) : [];
    for (const e of this.endpoints) this.subscribers.set(e.id, { channel: e, queue: [], busy: false });
  }

  /** 2.x: the client can take the client role on a connection; any version: a configured endpoint for it. */
  canSendTo(principal: Principal, version: KmipVersion): boolean {
    return this.config.enabled && (version.major >= 2 || this.endpoints.some((e) => e.principal.id === principal.id));
  }

  /** Close the configured endpoints' connections (server shutdown). */
  close(): void {
    for (const e of this.endpoints) {
      e.close();
      this.subscribers.delete(e.id);
    }
  }

  register(channel: S2cChannel): void {
    this.subscribers.set(channel.id, { channel, queue: [], busy: false });
    this.log.info({ conn: channel.id, client: channel.principal.id }, 'connection took the client role: server-to-client Notify / Put will be sent on it');
  }

  unregister(id: string): void {
    const s = this.subscribers.get(id);
    if (!s) return;
    this.subscribers.delete(id);
    if (s.queue.length > 0) this.log.info({ conn: id, undelivered: s.queue.length }, 'server-to-client channel closed with events queued');
    s.queue.length = 0;
  }

  /** Channels registered now. */
  get size(): number {
    return this.subscribers.size;
  }

  publish(changes: readonly CommittedChange[], origin: string): void {
    if (this.subscribers.size === 0) return;
    const events = changes.flatMap(eventsOf);
    for (const sub of this.subscribers.values()) {
      if (sub.channel.id === origin || sub.channel.closed) continue;
      for (const ev of events) {
        if (!this.mayReceive(sub.channel.principal, ev)) continue;
        if (sub.queue.length >= this.config.maxQueue) {
          this.outcome(sub.channel, ev, 'dropped', `queue full (serverToClient.maxQueue ${this.config.maxQueue})`);
          continue;
        }
        sub.queue.push(ev);
      }
      if (!sub.busy && sub.queue.length > 0) this.track(this.pump(sub));
    }
  }

  /** Wait for deliveries in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Notify: whoever may see the object; Put (key material): its owner only. */
  private mayReceive(p: Principal, ev: S2cEvent): boolean {
    if (ev.kind === 'put') return ev.record.owner === p.id;
    return this.services.access.allows(p, 'GetAttributes', ev.record.owner, objectGroups(ev.record.attributes));
  }

  private async pump(sub: Subscriber): Promise<void> {
    sub.busy = true;
    try {
      while (sub.queue.length > 0 && !sub.channel.closed && this.subscribers.get(sub.channel.id) === sub) {
        const ev = sub.queue.shift()!;
        try {
          await this.deliver(sub.channel, ev);
        } catch (e) {
          this.log.error({ err: e, conn: sub.channel.id }, 'server-to-client delivery failed unexpectedly');
        }
      }
    } finally {
      sub.busy = false;
    }
  }

  private async deliver(ch: S2cChannel, ev: S2cEvent): Promise<void> {
    const payloadNode =
      ev.kind === 'notify' ? notifyPayload(this.services, ch.version, ev.record, ev.previous) : await putPayload(this.services, ch.principal, ch.version, ev.record, ev.replaced);
    if (!payloadNode) return; // nothing this version shows changed, or an object not served in the clear
    const op = ev.kind === 'notify' ? Operation.Notify : Operation.Put;
    const { message } = s2cRequest(ch.version, op, payloadNode, BigInt(Math.floor(this.services.clock() / 1000)));
    let why = '';
    for (let attempt = 1; attempt <= this.config.maxAttempts && !ch.closed; attempt++) {
      try {
        const response = await ch.exchange(message, this.config.responseTimeoutMs);
        const status = resultStatusOf(response);
        if (status === ResultStatus.Success) {
          this.outcome(ch, ev, 'sent');
          return;
        }
        why = `the client answered Result Status ${status ?? '(none)'}`;
      } catch (e) {
        why = (e as Error).message;
      }
      if (attempt < this.config.maxAttempts && !ch.closed) await new Promise((r) => setTimeout(r, this.config.retryBaseMs * 2 ** (attempt - 1)).unref());
    }
    this.outcome(ch, ev, 'failed', ch.closed ? 'the connection closed' : why);
  }

  private outcome(ch: S2cChannel, ev: S2cEvent, outcome: Outcome, message?: string): void {
    const op = ev.kind === 'notify' ? 'Notify' : 'Put';
    this.counts[outcome]++;
    this.counter?.inc({ operation: op, outcome });
    if (outcome !== 'sent') this.log.warn({ conn: ch.id, client: ch.principal.id, op, uid: ev.record.uid, outcome, why: message }, `server-to-client ${op} ${outcome}`);
    const trail = this.services.audit;
    if (!trail) return;
    const event: AuditEvent = {
      kind: 'op',
      time: new Date(this.services.clock()).toISOString(),
      ref: `${ch.id}/s2c`,
      client: ch.principal.id,
      ...(ch.remote !== undefined ? { addr: ch.remote } : {}),
      kmip: `${ch.version.major}.${ch.version.minor}`,
      op,
      uids: [ev.record.uid],
      status: outcome === 'sent' ? 'Success' : 'OperationFailed',
      ...(outcome === 'sent' ? {} : { reason: outcome === 'dropped' ? 'Dropped' : 'NotDelivered', message: message ?? outcome }),
    };
    trail.commitAlone([event], { deferSync: true }).catch((e: unknown) => this.log.error({ err: e }, 'audit record of a server-to-client message could not be written'));
  }
}

function resultStatusOf(response: TtlvNode): number | undefined {
  if (response.type !== 'Structure' || response.tag !== Tag.ResponseMessage) return undefined;
  const item = response.value.find((c) => c.tag === Tag.BatchItem);
  if (item?.type !== 'Structure') return undefined;
  const s = item.value.find((c) => c.tag === Tag.ResultStatus);
  return s?.type === 'Enumeration' ? s.value : undefined;
}
