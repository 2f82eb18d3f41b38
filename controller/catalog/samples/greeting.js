// /whisk.system/samples/greeting: greets `name` (or `payload`) from `place`.
function main(params) {
  console.log('params:', params);
  const who = params.name || params.payload || 'stranger';
  const where = params.place || 'somewhere';
  return { payload: `Hello, ${who} from ${where}!` };
}
