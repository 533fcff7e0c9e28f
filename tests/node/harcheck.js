// Validate HAR files against the HAR 1.2 JSON Schema (har-validator, on har-schema).
//
//   node harcheck.js FILE...
//
// Prints one JSON line per file: {"file", "valid": true} or {"file", "valid": false, "errors":
// [{"path", "message"}...]}; exits 0 when every file is valid, 1 otherwise.
"use strict";

const fs = require("fs");
const validate = require("har-validator");

async function check(file) {
  const data = JSON.parse(fs.readFileSync(file, "utf8"));
  try {
    await validate.har(data);
    return { file, valid: true };
  } catch (err) {
    const errors = (err.errors || [{ message: String(err) }]).map((e) => ({
      path: e.dataPath || e.instancePath || "",
      message: e.message,
    }));
    return { file, valid: false, errors };
  }
}

(async () => {
  let ok = true;
  for (const file of process.argv.slice(2)) {
    const result = await check(file);
    ok = ok && result.valid;
    process.stdout.write(JSON.stringify(result) + "\n");
  }
  process.exit(ok ? 0 : 1);
})();
