/**
 * The public client surface: a TLS transport (`KmipClient`), request builders and a
 * checked response parser. TTLV trees and the codec come from `../ttlv`.
 */
export { KmipClient, DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES, type KmipClientOptions } from './client.js';
export { KmipHttpsClient, type KmipHttpsClientOptions, type HttpReply } from './https-client.js';
export type { KmipEncoding } from '../http/encodings.js';
export { KmipClientError, KmipResultError, type KmipClientErrorCode } from './errors.js';
export {
  versionAtLeast,
  attr,
  attributeName,
  attributeV1,
  templateAttributes,
  requestMessage,
  protocolVersion,
  createPayload,
  createSymmetricKeyPayload,
  getPayload,
  locatePayload,
  destroyPayload,
  activatePayload,
  queryPayload,
  discoverVersionsPayload,
  registerPayload,
  certificateObject,
  keyBlock,
  symmetricKeyObject,
  privateKeyObject,
  parseResponse,
  expectSuccess,
  findChild,
  findChildren,
  findPath,
  uniqueIdentifierOf,
  uniqueIdentifiersOf,
  keyMaterialOf,
  type KmipVersion,
  type AttributeNode,
  type RequestBatchItemSpec,
  type RequestMessageSpec,
  type CreateSymmetricKeyOptions,
  type GetOptions,
  type LocateOptions,
  type ResponseHeaderInfo,
  type ResponseItem,
  type ParsedResponse,
} from './requests.js';
