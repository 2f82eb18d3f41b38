// /whisk.system/samples/curl: runs `curl` on the URL in `payload` and answers what it printed:
// the page on success, curl's error output otherwise.
const { exec } = require('child_process');

function main(params) {
  const target = params.payload;
  console.log('Curl to ' + target);
  return new Promise((resolve) => {
    exec('curl --connect-timeout 3 ' + target, (failure, stdout, stderr) => {
      const msg = failure ? stderr : stdout;
      console.log(msg);
      resolve({ msg: msg });
    });
  });
}
