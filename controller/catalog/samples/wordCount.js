// /whisk.system/samples/wordCount: how many space-separated words `payload` has.
function main(params) {
  const text = params.payload.toString();
  const count = text.split(' ').length;
  console.log(`The message '${text}' has`, count, 'words');
  return { count: count };
}
