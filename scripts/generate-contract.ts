/** `npm run contract`: writes shared/json-schema/ from the valibot contract. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderJsonSchemas } from '../shared/src/json-schema.ts';

const dir = join(import.meta.dirname, '..', 'shared', 'json-schema');
mkdirSync(dir, { recursive: true });
for (const [name, text] of Object.entries(renderJsonSchemas())) {
  writeFileSync(join(dir, name), text);
  console.log(`wrote shared/json-schema/${name}`);
}
