export { ItemType, itemTypeName, isItemTypeName, type ItemTypeName, type ItemTypeCode } from './item-type.js';
export { type TtlvNode, type TtlvType, type NodeOf, type StructureNode, t, bigIntFromBytes, bigIntToBytes, nodesEqual } from './node.js';
export { TtlvError, type TtlvErrorCode } from './errors.js';
export { DEFAULT_LIMITS, type TtlvLimits } from './limits.js';
export { encode, encodedLength } from './encode.js';
export { decode } from './decode.js';
export { TtlvFramer, type FramerOptions } from './framer.js';
export { fromHex, toHex, annotate } from './hex.js';
export { printTree, formatValue, type NameResolver } from './print.js';
