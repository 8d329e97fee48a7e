//! Stamps the commit the binary is built from into `OPERATOR_COMMIT` (shown by `--version` and
//! the build_info metric): `git rev-parse --short HEAD` in a checkout, else the
//! `SENDGRID_TLS_OPERATOR_COMMIT` variable (the image build has no `.git`: it passes a build
//! argument), else "unknown".
//!
//! The script reruns only when HEAD moves (a checkout, or a commit on the branch HEAD names), so
//! editing sources does not rerun git.

use std::path::Path;
use std::process::Command;

const OVERRIDE: &str = "SENDGRID_TLS_OPERATOR_COMMIT";

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Tells cargo to rerun when `git_path` (a path inside the git directory) changes. A path that
/// does not exist is left out: cargo would rerun on every build.
fn watch(git_path: &str) {
    if let Some(path) = git(&["rev-parse", "--git-path", git_path])
        && Path::new(&path).exists()
    {
        println!("cargo:rerun-if-changed={path}");
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed={OVERRIDE}");
    let from_git = if Path::new(".git").exists() {
        watch("HEAD");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(&branch);
        }
        // A branch whose loose ref was packed by `git gc` lives in packed-refs.
        watch("packed-refs");
        git(&["rev-parse", "--short", "HEAD"])
    } else {
        None
    };
    let commit = from_git
        .or_else(|| {
            std::env::var(OVERRIDE)
                .ok()
                .filter(|c| !c.trim().is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=OPERATOR_COMMIT={commit}");
}
