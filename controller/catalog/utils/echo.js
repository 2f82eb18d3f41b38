// /whisk.system/utils/echo: answers with its parameters, unchanged.
function main(args) {
  if (args === undefined || args === null) {
    return {};
  }
  return args;
}
