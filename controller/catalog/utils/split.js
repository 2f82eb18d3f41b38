// /whisk.system/utils/split: cuts `payload` at each `separator` (a string; by default a line break)
// and answers the pieces beside the payload as given.
function main(args) {
  const separator = args.separator || /\r?\n/;
  const pieces = args.payload.toString().split(separator);
  const out = { lines: pieces, payload: args.payload };
  console.log(`split: returning ${JSON.stringify(out)}`);
  return out;
}
