/** Operations on managed objects and their lifecycle (Create, Register, Get, Activate, …, Export, Import, Create/Join Split Key). */
import type { OperationHandler } from './context.js';
import { activate } from './activate.js';
import { archive } from './archive.js';
import { check } from './check.js';
import { create } from './create.js';
import { createSplitKey } from './create-split-key.js';
import { joinSplitKey } from './join-split-key.js';
import { destroy } from './destroy.js';
import { get } from './get.js';
import { getUsageAllocation } from './get-usage-allocation.js';
import { obtainLease } from './obtain-lease.js';
import { recover } from './recover.js';
import { register } from './register.js';
import { revoke } from './revoke.js';
import { exportObject } from './export.js';
import { importObject } from './import.js';

export const OBJECT_HANDLERS: readonly OperationHandler[] = [create, register, get, activate, revoke, destroy, archive, recover, check, obtainLease, getUsageAllocation, exportObject, importObject, createSplitKey, joinSplitKey];
