// /whisk.system/samples/wordCountAsync: wordCount, answered a tenth of a second later through a
// Promise, to show an asynchronous action.
function countWords(text) {
  const count = text.split(' ').length;
  console.log(`The message '${text}' has`, count, 'words');
  return { count: count };
}

function main(params) {
  return new Promise((resolve) => {
    setTimeout(() => resolve(countWords(params.payload)), 100);
  });
}
