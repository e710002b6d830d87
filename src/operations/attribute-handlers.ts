/** Operations on attributes, and Locate. */
import type { OperationHandler } from './context.js';
import { addAttribute } from './add-attribute.js';
import { adjustAttribute } from './adjust-attribute.js';
import { deleteAttribute } from './delete-attribute.js';
import { getAttributeList } from './get-attribute-list.js';
import { getAttributes } from './get-attributes.js';
import { locate } from './locate.js';
import { modifyAttribute } from './modify-attribute.js';
import { setAttribute } from './set-attribute.js';

export const ATTRIBUTE_HANDLERS: readonly OperationHandler[] = [
  getAttributes,
  getAttributeList,
  addAttribute,
  setAttribute,
  modifyAttribute,
  deleteAttribute,
  adjustAttribute,
  locate,
];
