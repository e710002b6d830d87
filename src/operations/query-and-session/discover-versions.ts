/**
 * Discover Versions. KMIP 1.4 §4.26, KMIP 2.1 §6.1.16 (Tables 211-213).
 * Answers the served versions in the server's order of preference; when the client lists
 * its own, only the versions both support (still in the server's order). A client whose profile
 * sets a default protocol version (policy/client-profiles.ts) is offered none above it.
 * Result Reasons: Invalid Field (a malformed Protocol Version).
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { protocolVersionNode } from '../../kmip/messages.js';
import { payload, readPayload, repeated, required } from '../../kmip/payload.js';
import { compareVersions } from '../../kmip/registry.js';
import type { OperationHandler } from '../context.js';
import { DEFAULT_CLIENT_PROFILE, offeredVersions } from '../../policy/client-profiles.js';

const Request = { versions: repeated(Tag.ProtocolVersion, 'Structure') };
const Version = { major: required(Tag.ProtocolVersionMajor, 'Integer'), minor: required(Tag.ProtocolVersionMinor, 'Integer') };

export const discoverVersions: OperationHandler = {
  operation: Operation.DiscoverVersions,
  name: 'DiscoverVersions',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Discover Versions request payload' });
    const wanted = req.versions.map((v) => {
      const p = readPayload(v, Version, { what: 'Protocol Version' });
      return { major: p.major.value, minor: p.minor.value };
    });
    const profile = ctx.services.clientProfiles?.forIdentity(ctx.principal.id) ?? DEFAULT_CLIENT_PROFILE;
    const served = offeredVersions(profile, ctx.services.versions).filter((s) => wanted.length === 0 || wanted.some((w) => compareVersions(w, s) === 0));
    return payload(Tag.ResponsePayload, served.map(protocolVersionNode));
  },
};
