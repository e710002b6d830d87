/** Operations on attributes, and Locate. */
import type { OperationHandler } from './context.js';

export const ATTRIBUTE_HANDLERS: readonly OperationHandler[] = [];
