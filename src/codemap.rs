//! Holds ARCHITECTURE.md's codemap to the tree: every source file is named
//! in the bullet of its folder (or has a bullet of its own), so a newcomer
//! who reads the map finds every module. Test-only.

use std::path::{Path, PathBuf};

/// Source files that need no line of their own: the crate roots' tests.
fn exempt(relative: &str) -> bool {
    relative.ends_with("/tests.rs") || relative == "src/lib.rs"
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The codemap's bullets, each as its first line's path (`src/app/`,
/// `src/audit.rs`) and its whole text.
fn bullets(map: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in map.lines() {
        if let Some(rest) = line.strip_prefix("- `") {
            let path = rest.split('`').next().unwrap_or_default().to_owned();
            out.push((path, line.to_owned()));
        } else if let Some((_, text)) = out.last_mut()
            && (line.starts_with("  ") || line.is_empty())
        {
            text.push('\n');
            text.push_str(line);
        }
    }
    out
}

#[test]
fn every_source_file_is_named_in_the_architecture_codemap() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let bullets = bullets(&map);
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut missing = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .expect("below the root")
            .to_string_lossy()
            .replace('\\', "/");
        if exempt(&relative) {
            continue;
        }
        let named = bullets.iter().any(|(path, text)| {
            if *path == relative {
                return true;
            }
            // A file in a folder's bullet: named by its path below the
            // folder (`scheduler.rs`, `inbound/prescan.rs`), or the folder's
            // own `mod.rs`, which the bullet itself describes.
            match relative.strip_prefix(path.as_str()) {
                Some("mod.rs") => path.ends_with('/'),
                Some(below) if path.ends_with('/') => text.contains(&format!("`{below}`")),
                _ => false,
            }
        });
        if !named {
            missing.push(relative);
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's codemap does not name these files (write each as `name.rs` in its folder's bullet): {missing:?}"
    );
}

#[test]
fn the_architecture_codemap_names_no_source_file_that_is_gone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut gone = Vec::new();
    for (path, text) in bullets(&map) {
        if !path.starts_with("src/") {
            continue;
        }
        if !root.join(&path).exists() {
            gone.push(path.clone());
        }
        if !path.ends_with('/') {
            continue;
        }
        // Every `name.rs` the folder's bullet names must be in the folder.
        for piece in text.split('`').skip(1).step_by(2) {
            if piece.ends_with(".rs")
                && !piece.contains(' ')
                && !root.join(&path).join(piece).exists()
            {
                gone.push(format!("{path}{piece}"));
            }
        }
    }
    assert!(
        gone.is_empty(),
        "ARCHITECTURE.md names files that do not exist: {gone:?}"
    );
}
