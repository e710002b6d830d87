/**
 * HSM custody shared by the cluster: two `kms serve` processes over one PostgreSQL database and
 * one SoftHSM2 token (its token folder shared on this machine). The second node's new folder
 * joins by itself: the database's custody record names the token, the KEK and the audit key
 * (label + CKA_ID), which it finds there; a key created on one node is served by the other.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServeProcess } from '../support/kms-process.js';
import { createSoftHsmToken, type SoftHsmToken } from '../hsm/softhsm.js';
import { createKey, keyBytes, newClusterDatabase, newFolder, startNode } from './nodes.js';

let token: SoftHsmToken | undefined;
const nodes: ServeProcess[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  token?.cleanup();
});

describe('HSM custody shared by two nodes', () => {
  it('the second folder joins the token’s recorded KEK and audit key; both nodes serve the same keys', async () => {
    token = createSoftHsmToken('kms-cluster');
    const hsm = { hsm: { module: token.module, tokenLabel: token.label, pin: token.pin } };
    const url = await newClusterDatabase();
    const dirA = newFolder('hsm-a');
    const a = await startNode(dirA, url, hsm);
    nodes.push(a);
    const dirB = newFolder('hsm-b');
    const b = await startNode(dirB, url, hsm);
    nodes.push(b);
    type Hsm = { protector: { kind: string; keks: { label: string; id: string; state: string }[]; auditKey: { label: string; id: string } } };
    const ca = JSON.parse(readFileSync(join(dirA, 'custody.json'), 'utf8')) as Hsm;
    const cb = JSON.parse(readFileSync(join(dirB, 'custody.json'), 'utf8')) as Hsm;
    expect(ca.protector.kind).toBe('hsm');
    expect(cb.protector.keks).toEqual(ca.protector.keks);
    expect(cb.protector.auditKey).toEqual(ca.protector.auditKey);
    const clientA = await a.client();
    const clientB = await b.client();
    const uid = await createKey(clientA);
    expect((await keyBytes(clientB, uid)).equals(await keyBytes(clientA, uid))).toBe(true);
    const uid2 = await createKey(clientB);
    expect((await keyBytes(clientA, uid2)).equals(await keyBytes(clientB, uid2))).toBe(true);
  });
});
