// /whisk.system/utils/cat: keeps `lines` and adds `payload`, the lines joined by newlines.
function main(args) {
  const lines = args.lines || [];
  const out = { lines: lines, payload: lines.join('\n') };
  console.log(`cat: returning ${JSON.stringify(out)}`);
  return out;
}
