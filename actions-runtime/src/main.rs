//! `owl-actionproxy`: the HTTP server inside an action container.
//! `owl-actionproxy --echo` serves a bare HTTP echo instead, the floor benchmarks compare against.

use owl_actions_runtime::config::Config;

fn main() -> std::io::Result<()> {
    let config = match Config::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("owl-actionproxy: {e}");
            std::process::exit(2);
        }
    };
    actix_web::rt::System::new().block_on(async move {
        let listener = std::net::TcpListener::bind((config.bind.as_str(), config.port))?;
        if std::env::args().any(|a| a == "--echo") {
            return owl_actions_runtime::server::serve_echo(listener)?.await;
        }
        owl_actions_runtime::server::serve(listener, config)?.await
    })
}
