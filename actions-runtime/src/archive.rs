//! An action's code as `/init` delivers it: source text, or base64 bytes (a zip, or for native
//! actions an executable). Zips are unpacked refusing anything that would land outside the action's
//! directory: absolute paths, `..`, and links pointing out.

use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};

use base64::Engine;

/// Uncompressed bytes a zip may unpack to, guarding against zip bombs.
pub const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;

pub fn decode_base64(code: &str) -> Result<Vec<u8>, String> {
    let compact: String = code.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "There was an error reading the action archive.".to_string())
}

pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Does `target`, a link stored at `at` (relative to the root), stay inside the root?
fn link_stays_inside(at: &Path, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth: i64 = at.parent().map_or(0, |p| p.components().count() as i64);
    for c in Path::new(target).components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Unpacks a zip into `dest`, keeping executable bits and safe relative links.
pub fn unzip(bytes: &[u8], dest: &Path) -> Result<(), String> {
    let bad =
        |what: &str| format!("There was an error uncompressing the action Zip archive: {what}.");
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(&e.to_string()))?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(&e.to_string()))?;
        let name = entry
            .name()
            .map(|n| n.to_string())
            .map_err(|e| bad(&e.to_string()))?;
        let rel: PathBuf = entry
            .enclosed_name()
            .ok_or_else(|| bad(&format!("'{name}' points outside the archive")))?;
        let path = dest.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| bad(&e.to_string()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| bad(&e.to_string()))?;
        }
        total = total.saturating_add(entry.size());
        if total > MAX_UNPACKED {
            return Err(bad("it unpacks to more than 1 GiB"));
        }
        if entry.is_symlink() {
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .map_err(|e| bad(&e.to_string()))?;
            if !link_stays_inside(&rel, &target) {
                return Err(bad(&format!(
                    "the link '{name}' points outside the archive"
                )));
            }
            std::os::unix::fs::symlink(&target, &path).map_err(|e| bad(&e.to_string()))?;
            continue;
        }
        let mut out = std::fs::File::create(&path).map_err(|e| bad(&e.to_string()))?;
        let written = std::io::copy(&mut (&mut entry).take(MAX_UNPACKED), &mut out)
            .map_err(|e| bad(&e.to_string()))?;
        if written != entry.size() {
            return Err(bad(&format!(
                "'{name}' is truncated or larger than it claims"
            )));
        }
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))
                .map_err(|e| bad(&e.to_string()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_may_point_within_the_archive_only() {
        assert!(link_stays_inside(
            Path::new("node_modules/.bin/x"),
            "../pkg/cli.js"
        ));
        assert!(!link_stays_inside(Path::new("a"), "../etc/passwd"));
        assert!(!link_stays_inside(Path::new("a/b"), "../../.."));
        assert!(!link_stays_inside(Path::new("a"), "/etc/passwd"));
    }

    #[test]
    fn garbage_is_not_a_zip() {
        let dir = tempfile::tempdir().unwrap();
        assert!(unzip(b"PK\x03\x04 but nothing after", dir.path()).is_err());
        assert!(!is_zip(b"hello"));
        assert!(decode_base64("!!!").is_err());
    }
}
