// /whisk.system/samples/helloWorld: writes one line to the log and answers an empty result.
function main(params) {
  console.log('hello', `${params.payload}!`);
}
