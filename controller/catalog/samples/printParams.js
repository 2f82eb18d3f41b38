// /whisk.system/samples/printParams: logs each parameter, in the alphabetical order of the keys,
// and answers them in that order.
function main(params) {
  const keys = Object.keys(params).sort();
  const sorted = {};
  keys.forEach((key, i) => {
    const lead = i === 0 ? '' : ' ';
    console.log(`${lead}params.${key}:`, params[key]);
    sorted[key] = params[key];
  });
  return { params: sorted };
}
