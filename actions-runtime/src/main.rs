//! `owl-actionproxy`: the HTTP server inside an action container.
//! `owl-actionproxy --echo` serves a bare HTTP echo instead, the floor benchmarks compare against.
//! `owl-actionproxy -compile <main>` builds the action read on stdin (source, or a zip of sources)
//! with the image's compiler and writes the zip of the precompiled action on stdout, as upstream's
//! images do for `docker run -i <image> -compile main <source >action.zip`.

use owl_actions_runtime::config::Config;

fn main() -> std::io::Result<()> {
    let config = match Config::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("owl-actionproxy: {e}");
            std::process::exit(2);
        }
    };
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("-compile") {
        let main = args.get(2).cloned().unwrap_or_default();
        let mut input = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)?;
        let built = actix_web::rt::System::new().block_on(owl_actions_runtime::build::precompile(
            config.compiler.as_deref(),
            &main,
            &input,
        ));
        return match built {
            Ok(zip) => std::io::Write::write_all(&mut std::io::stdout(), &zip),
            Err(why) => {
                eprintln!("{}", why.trim_end());
                std::process::exit(1);
            }
        };
    }
    actix_web::rt::System::new().block_on(async move {
        let listener = std::net::TcpListener::bind((config.bind.as_str(), config.port))?;
        if args.iter().any(|a| a == "--echo") {
            return owl_actions_runtime::server::serve_echo(listener)?.await;
        }
        owl_actions_runtime::server::serve(listener, config)?.await
    })
}
