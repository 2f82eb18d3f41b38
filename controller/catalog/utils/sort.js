// /whisk.system/utils/sort: sorts `lines` in JavaScript's default order (as strings) and counts them.
function main(args) {
  const lines = args.lines || [];
  console.log(`sort input msg: ${JSON.stringify(args)}`);
  console.log(`sort before: ${lines}`);
  lines.sort();
  console.log(`sort after: ${lines}`);
  return { lines: lines, length: lines.length };
}
