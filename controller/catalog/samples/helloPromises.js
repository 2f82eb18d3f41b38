// /whisk.system/samples/helloPromises: asks /whisk.system/samples/greeting for a greeting (a
// blocking invoke through the API, with the caller's key) and answers its words, one per line.
const openwhisk = require('openwhisk');

function main(params) {
  const ow = openwhisk({ ignore_certs: params.ignore_certs || false });
  const request = {
    actionName: '/whisk.system/samples/greeting',
    params: { name: params.name, place: params.place },
    blocking: true,
  };
  return ow.actions.invoke(request).then((activation) => {
    console.log('activation:', activation);
    const greeting = activation.response.result.payload.toString();
    return { lines: greeting.split(' ') };
  });
}
