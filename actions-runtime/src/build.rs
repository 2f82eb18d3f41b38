//! Building an actionloop action's executable from its code, as upstream's actionloop proxy does
//! (`openwhisk-runtime-go`: `initHandler.go`, `extractor.go`, `filetype.go`, `compiler.go`): at
//! `/init`, and for `owl-actionproxy -compile <main>`, which makes the zip of a precompiled action
//! (`docker run -i <image> -compile main <source >action.zip`, as upstream's images offer).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::archive;

/// The action's executable from its code (a zip, an executable, or source) put in `src`: a program
/// there (`src/exec`, an ELF binary or a `#!` script) runs as it is, whatever its mode; anything
/// else is source, built into `bin/exec` by the compiler when the runtime has one.
pub async fn executable(
    compiler: Option<&Path>,
    main: &str,
    code: &[u8],
    src: &Path,
    bin: &Path,
) -> Result<PathBuf, String> {
    for d in [src, bin] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let given = src.join("exec");
    if archive::is_zip(code) {
        archive::unzip(code, src)?;
    } else {
        write_executable(&given, code)?;
    }
    let exec = match compiler {
        _ if is_program(&given) => {
            make_executable(&given)?;
            given
        }
        Some(compiler) => {
            compile(compiler, main, src, bin).await?;
            bin.join("exec")
        }
        None => given,
    };
    if !is_executable(&exec) {
        return Err(format!("the action has no executable {}", exec.display()));
    }
    Ok(exec)
}

/// `-compile <main>`: builds the code read from `input` (source or a zip of sources) in a scratch
/// directory and answers a zip holding the executable as `exec`, which `/init` runs as it is.
pub async fn precompile(
    compiler: Option<&Path>,
    main: &str,
    input: &[u8],
) -> Result<Vec<u8>, String> {
    let scratch = std::env::temp_dir().join(format!("owl-compile-{}", std::process::id()));
    let built = async {
        let exec = executable(
            compiler,
            main,
            input,
            &scratch.join("src"),
            &scratch.join("bin"),
        )
        .await?;
        let bytes = std::fs::read(&exec).map_err(|e| e.to_string())?;
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755);
        zip.start_file("exec", options).map_err(|e| e.to_string())?;
        zip.write_all(&bytes).map_err(|e| e.to_string())?;
        zip.finish().map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    built
}

/// Is this file a program the kernel runs as it is: an ELF binary (longer than its header), or a
/// script starting with `#!`?
pub fn is_program(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    if f.read_exact(&mut head).is_err() {
        return false;
    }
    let long = f.metadata().is_ok_and(|m| m.len() > 52);
    head.starts_with(b"#!") || (head == *b"\x7fELF" && long)
}

/// Runs `<compiler> <main> <src> <bin>`; its output is why, when it fails.
pub async fn compile(compiler: &Path, main: &str, src: &Path, bin: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new(compiler)
        .arg(main)
        .arg(src)
        .arg(bin)
        .current_dir(src)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot start the compiler {}: {e}", compiler.display()))?;
    if out.status.success() && is_executable(&bin.join("exec")) {
        return Ok(());
    }
    let mut why = String::from_utf8_lossy(&out.stdout).into_owned();
    why.push_str(&String::from_utf8_lossy(&out.stderr));
    if why.trim().is_empty() {
        why = format!("the compiler failed ({})", out.status);
    }
    Err(why)
}

pub fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| e.to_string())?;
    make_executable(path)
}

pub fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
