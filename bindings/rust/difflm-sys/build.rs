//! Finds libdifflm, first match wins:
//!   1. DIFFLM_LIB_DIR, an absolute path to the directory holding libdifflm.so;
//!   2. `pkg-config --libs difflm` (honouring PKG_CONFIG_PATH, e.g. build/meson-uninstalled);
//!   3. this repository's build tree, build/lib (where README.md's commands build it).
//! The directory is passed on to dependents as DEP_DIFFLM_LIB_DIR, and this crate's own
//! tests get it as their run path (the difflm crate does the same for its tests and
//! examples), so they run without LD_LIBRARY_PATH.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn use_dir(dir: &str) {
    println!("cargo:rustc-link-search=native={}", dir);
    println!("cargo:lib_dir={}", dir);
    if !dir.starts_with("/usr/lib") && !dir.starts_with("/lib") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=DIFFLM_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-changed=build.rs");

    if let Ok(dir) = env::var("DIFFLM_LIB_DIR") {
        if !Path::new(&dir).is_absolute() {
            panic!(
                "DIFFLM_LIB_DIR={} is relative; give an absolute path (cargo runs this \
                 script in {}, not where cargo was started)",
                dir,
                env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
            );
        }
        if !Path::new(&dir).is_dir() {
            panic!("DIFFLM_LIB_DIR={} is not a directory", dir);
        }
        use_dir(&dir);
        println!("cargo:rustc-link-lib=dylib=difflm");
        return;
    }

    let pkg = Command::new("pkg-config").args(["--libs", "difflm"]).output();
    let pkg_error = match pkg {
        Ok(o) if o.status.success() => {
            let mut linked = false;
            for word in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                if let Some(dir) = word.strip_prefix("-L") {
                    use_dir(dir);
                } else if let Some(lib) = word.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib=dylib={}", lib);
                    linked |= lib == "difflm";
                }
            }
            if !linked {
                println!("cargo:rustc-link-lib=dylib=difflm");
            }
            return;
        }
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => format!("cannot run pkg-config: {}", e),
    };

    // bindings/rust/difflm-sys -> the repository's build/lib.
    let tree = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("..")
        .join("..")
        .join("..")
        .join("build")
        .join("lib");
    println!("cargo:rerun-if-changed={}", tree.join("libdifflm.so").display());
    if tree.join("libdifflm.so").exists() {
        let tree = tree.canonicalize().unwrap();
        use_dir(tree.to_str().expect("a UTF-8 path to build/lib"));
        println!("cargo:rustc-link-lib=dylib=difflm");
        return;
    }
    panic!(
        "libdifflm not found: DIFFLM_LIB_DIR is unset, pkg-config has no difflm ({}), and \
         {} holds no libdifflm.so. Build the library (README.md), or set DIFFLM_LIB_DIR to \
         the directory of libdifflm.so, or PKG_CONFIG_PATH to the directory of difflm.pc",
        pkg_error,
        tree.display()
    );
}
