// ESLint flat config: typescript-eslint's recommended rules and the React
// hooks rules (rules of hooks, exhaustive deps, the React Compiler's checks).
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'e2e-artifacts/', 'node_modules/', 'src/lib/api-types.ts'] },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['e2e/**/*.mjs', '*.js'],
    extends: [js.configs.recommended],
    // The browser tests' page.evaluate callbacks run in the page.
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
