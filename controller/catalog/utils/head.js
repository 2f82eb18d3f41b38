// /whisk.system/utils/head: the first `num` (by default 1) entries of `lines`.
function main(args) {
  const lines = args.lines || [];
  const num = args.num || 1;
  const first = lines.slice(0, num);
  console.log(`head get first ${num} lines of ${lines}: ${first}`);
  return { lines: first, num: num };
}
