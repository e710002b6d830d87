/**
 * The audit records of a KEK rotation (one started, then one success or failure), for the
 * rotation of a folder (kek-rotation.ts) and of a cluster (cluster-kek.ts) alike: the same
 * reference, client and operation name, `ms` since the rotation started.
 */
export function rotationEvents(actor: string | undefined): (
  status: string,
  message: string,
) => {
  kind: 'op';
  time: string;
  ref: string;
  client: string;
  op: 'RotateKEK';
  status: string;
  message: string;
  ms: number;
} {
  const started = Date.now();
  return (status, message) => ({
    kind: 'op',
    time: new Date().toISOString(),
    ref: `admin/rotate-kek/${started}`,
    client: actor ?? 'operator',
    op: 'RotateKEK',
    status,
    message,
    ms: Date.now() - started,
  });
}
