/** Operations on managed objects and their lifecycle (Create, Register, Get, Activate, …). */
import type { OperationHandler } from './context.js';

export const OBJECT_HANDLERS: readonly OperationHandler[] = [];
