// Lint: the recommended TypeScript rules, type-aware where it catches real bugs
// (floating promises are how a supervisor leaks a child process).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', '.cim/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain scripts run on Node; name the globals they use rather than pulling in a globals package.
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
