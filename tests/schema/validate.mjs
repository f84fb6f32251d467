// Validates JSON files against switchboard's schemas (schema/*.schema.json) with Ajv's
// draft 2020-12 validator. Prints one line per file: "valid <file>" or
// "invalid <file> <first error>", and exits 0 (the caller compares verdicts).
//
// usage: node validate.mjs SCHEMA_DIR NAME FILE...   (NAME: providers, answer, plan, ...)
import Ajv2020 from "ajv/dist/2020.js";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const [dir, name, ...files] = process.argv.slice(2);
const ajv = new Ajv2020({ allErrors: true, strict: true });
for (const f of readdirSync(dir).filter((f) => f.endsWith(".schema.json")))
  ajv.addSchema(JSON.parse(readFileSync(join(dir, f), "utf8")));
const validate = ajv.getSchema(`${name}.schema.json`); // each schema's $id is its file name
if (!validate) {
  console.error(`no schema named ${name}`);
  process.exit(2);
}
for (const file of files) {
  let doc;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    console.log(`invalid ${file} not JSON: ${e.message}`);
    continue;
  }
  if (validate(doc)) console.log(`valid ${file}`);
  else console.log(`invalid ${file} ${validate.errors[0].instancePath} ${validate.errors[0].message}`);
}
