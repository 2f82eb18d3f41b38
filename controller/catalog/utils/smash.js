// /whisk.system/utils/smash: moves every parameter under one property, named by `$fieldName`.
function main(args) {
  const field = args.$fieldName;
  if (typeof field !== 'string') {
    return { error: "Expected an argument '$fieldName' of type 'string'." };
  }
  delete args.$fieldName;
  const out = {};
  out[field] = args;
  return out;
}
