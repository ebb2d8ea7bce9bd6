//! Finds libdifflm: DIFFLM_LIB_DIR (a directory holding libdifflm.so) wins; otherwise
//! `pkg-config --libs difflm` (honouring PKG_CONFIG_PATH, e.g. build/meson-uninstalled).
use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=DIFFLM_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-changed=build.rs");

    if let Ok(dir) = env::var("DIFFLM_LIB_DIR") {
        if !Path::new(&dir).is_dir() {
            panic!("DIFFLM_LIB_DIR={dir} is not a directory");
        }
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-lib=dylib=difflm");
        println!("cargo:lib_dir={dir}");
        return;
    }

    let out = Command::new("pkg-config").args(["--libs", "difflm"]).output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => panic!(
            "pkg-config cannot find difflm ({}); set DIFFLM_LIB_DIR to the directory of \
             libdifflm.so, or PKG_CONFIG_PATH to the directory of difflm.pc",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run pkg-config ({e}); set DIFFLM_LIB_DIR instead"),
    };
    let mut linked = false;
    for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Some(dir) = word.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:lib_dir={dir}");
        } else if let Some(lib) = word.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
            linked |= lib == "difflm";
        }
    }
    if !linked {
        println!("cargo:rustc-link-lib=dylib=difflm");
    }
}
