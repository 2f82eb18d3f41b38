// /whisk.system/utils/hosturl: the URL that invokes an action (or fires a trigger, or calls a web
// action) of the caller's namespace, on the API host this action was invoked through.
const WEB_EXTENSIONS = ['.html', '.http', '.json', '.svg', '.text'];

function main(args) {
  const apiHost = process.env.__OW_API_HOST;
  const namespace = process.env.__OW_NAMESPACE;
  const web = args.web === true;

  if (web && args.trigger) {
    return { error: 'triggers are not allowed for web actions.' };
  }
  if (web && args.ext) {
    if (!WEB_EXTENSIONS.includes(args.ext)) {
      return { error: 'extension for web action must be one of [".html", ".http", ".json", ".svg", ".text"].' };
    }
  } else if (args.trigger && args.path.indexOf('/') !== -1) {
    return { error: 'triggers are not allowed in packages.' };
  }

  let base;
  if (web) {
    base = `${apiHost}/api/v1/web/${namespace}`;
  } else {
    const collection = args.trigger === true ? 'triggers' : 'actions';
    base = `${apiHost}/api/v1/namespaces/${namespace}/${collection}`;
  }
  if (!args.path) {
    return { url: base };
  }
  // A web action outside any package lives in the package named `default`.
  const path = web && args.path.indexOf('/') === -1 ? `default/${args.path}` : args.path;
  const suffix = web ? args.ext || '' : '';
  return { url: `${base}/${path}${suffix}` };
}
