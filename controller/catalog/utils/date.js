// /whisk.system/utils/date: the current date and time (an ISO 8601 string once serialized).
function main() {
  const when = new Date();
  console.log('It is now ' + when);
  return { date: when };
}
