// /whisk.system/samples/countdown: logs `n`, then invokes itself (without waiting) with `n - 1`
// until `n` reaches zero, which it celebrates. Needs the caller's API key (`provide-api-key`).
const openwhisk = require('openwhisk');

function main(params) {
  const ow = openwhisk({ ignore_certs: params.ignore_certs || false });
  const n = parseInt(params.n);
  console.log(n);
  if (n === 0) {
    console.log('Happy New Year!');
    return;
  }
  if (n > 0) {
    return ow.actions.invoke({
      actionName: process.env.__OW_ACTION_NAME,
      params: { n: n - 1 },
    });
  }
}
