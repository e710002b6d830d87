/** The project's own ESLint rules (plugin `local` in eslint.config.js); tests in test/eslint-rules/. */
import { layersRule } from './layers.js';
import { noCycleRule } from './no-cycle.js';

export default {
  meta: { name: 'kms-local-rules' },
  rules: { layers: layersRule, 'no-cycle': noCycleRule },
};
