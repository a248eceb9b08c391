// Links libagentbudget.so. AGENTBUDGET_LIB_DIR names the folder that holds it
// (the CMake build sets it to the build tree's capi/); without it, the
// repository's build/capi is tried, then the system's linker path. The folder
// is also recorded as an rpath so tests and examples run without
// LD_LIBRARY_PATH.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=AGENTBUDGET_LIB_DIR");
    let dir = match env::var("AGENTBUDGET_LIB_DIR") {
        Ok(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => {
            let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
            let guess = manifest.join("../../build/capi");
            if guess.join("libagentbudget.so").exists() {
                Some(guess)
            } else {
                None
            }
        }
    };
    if let Some(d) = dir {
        println!("cargo:rustc-link-search=native={}", d.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", d.display());
    }
    println!("cargo:rustc-link-lib=dylib=agentbudget");
}
